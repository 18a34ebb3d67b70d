"""The deployment profiles' contracts (salt/preflight/profiles/<profile>.yaml, docs/profiles.md):
one per profile the preflight module knows, well formed, keyed by pillar keys the preflight SLS can
read, hardened holding every rule of production, and each rule as the issue states it. The SLS
that checks them renders in tests/functional/test_profiles.py."""

import re

import pytest
import yaml

from tests.conftest import REPO
from tests.support.saltmods import load

contracts = load("_utils", "param_contract")
PROFILES = load("_modules", "preflight").PROFILES
PROFILE_DIR = REPO / "salt" / "preflight" / "profiles"
ROLE_KEYS = {f"core:{role}" for role in yaml.safe_load((REPO / "salt/core/roles.yaml").read_text())} \
    | {"health_check"}


def _contract(profile):
    return yaml.safe_load((PROFILE_DIR / f"{profile}.yaml").read_text())


def _check(profile, pillar, merged=None):
    """The profile's problems as salt/preflight words them, over raw *pillar* and the roles'
    *merged* parameters (by pillar key)."""
    found = []
    for key, spec in sorted(_contract(profile).items()):
        value = (merged or {}).get(key, pillar.get(key, {}))
        found += [f"deploy:profile {profile}: {p}" for p in contracts.check(spec, value, key)]
    return found


def test_one_contract_per_known_profile_and_the_same_names_everywhere():
    assert sorted(p.stem for p in PROFILE_DIR.glob("*.yaml")) == sorted(PROFILES)
    # pillar/deploy/init.sls checks deploy/profiles.yaml's names against its own list
    known = re.search(r'set known = (\[[^]]*\])', (REPO / "pillar/deploy/init.sls").read_text())
    assert yaml.safe_load(known.group(1)) == list(PROFILES)
    shipped = yaml.safe_load((REPO / "pillar/deploy/profiles.yaml").read_text())
    assert set(shipped) == {*PROFILES, "default"} and shipped["default"] == "dev"  # the lab's hosts


@pytest.mark.parametrize("profile", PROFILES)
def test_each_contract_is_well_formed_and_keyed_by_what_preflight_reads(profile):
    contract = _contract(profile)
    assert contract
    for key, spec in contract.items():
        assert contracts.contract_problems(dict(spec, type="mapping"), key) == []
        assert spec.get("extra") is True, f"{key}: a profile constrains only what it names"
        # a role's own key (merged parameters) or a key that is neither inside nor above one
        assert key in ROLE_KEYS or not any(key.startswith(r + ":") or r.startswith(key + ":")
                                           for r in ROLE_KEYS), key


def _rules(spec, path=""):
    """Every leaf rule of *spec*: (key path, spec)."""
    if "fields" not in spec:
        return {path: spec}
    found = {}
    for name, field in spec["fields"].items():
        found.update(_rules(field, f"{path}:{name}"))
    return found


def _all_rules(profile):
    return {f"{key}{path}": rule for key, spec in _contract(profile).items()
            for path, rule in _rules(spec).items()}


def test_hardened_is_production_and_stricter_ssh():
    production, hardened = _all_rules("production"), _all_rules("hardened")
    assert {k: v for k, v in hardened.items() if k in production} == production
    assert set(hardened) - set(production) == {"security:ssh:password_authentication",
                                               "security:ssh:permit_root_login"}


@pytest.mark.parametrize("profile, rules", [
    ("production", {"health_check:fail_on_mandatory": [True], "deploy:fail_secure": [True],
                    "security:firewall:enabled": [True]}),
    ("hardened", {"health_check:fail_on_mandatory": [True], "deploy:fail_secure": [True],
                  "security:firewall:enabled": [True], "security:ssh:password_authentication": [False],
                  "security:ssh:permit_root_login": ["no"]}),
    ("ephemeral", {"core:secrets:tmpfs": [True], "deploy:fail_secure": [True],
                   "security:firewall:enabled": [True]}),
    ("dev", {"deploy:fail_secure": None, "security:firewall:enabled": [True]}),
])
def test_the_rules_of_each_profile(profile, rules):
    assert {key: rule.get("one_of") for key, rule in _all_rules(profile).items()} == rules


@pytest.mark.parametrize("profile", PROFILES)
def test_a_pillar_that_says_nothing_passes_but_volatile_secrets(profile):
    # the rules ahead of issue 15 (security:...) refuse only an explicit contrary value
    merged = {"core:secrets": {"tmpfs": False}}  # core.secrets' default
    expected = ["deploy:profile ephemeral: core:secrets:tmpfs: is false, must be one of true"] \
        if profile == "ephemeral" else []
    assert _check(profile, {}, merged) == expected
    assert _check(profile, {"deploy": {"fail_secure": True}, "security": {}},
                  {"core:secrets": {"tmpfs": True}}) == []


@pytest.mark.parametrize("profile", PROFILES)
def test_the_firewall_stays_on_in_every_profile(profile):
    assert _check(profile, {"security": {"firewall": {"enabled": False}}},
                  {"core:secrets": {"tmpfs": True}}) == [
        f"deploy:profile {profile}: security:firewall:enabled: is false, must be one of true"]


def test_fail_secure_may_be_off_on_dev_only():
    assert _check("dev", {"deploy": {"fail_secure": False}}) == []
    assert _check("dev", {"deploy": {"fail_secure": "no"}}) == [
        "deploy:profile dev: deploy:fail_secure: is 'no', must be true or false"]
    for profile in ("production", "hardened", "ephemeral"):
        assert f"deploy:profile {profile}: deploy:fail_secure: is false, must be one of true" in \
            _check(profile, {"deploy": {"fail_secure": False}})


def test_hardened_ssh_refuses_passwords_and_root_login():
    pillar = {"security": {"ssh": {"password_authentication": True, "permit_root_login": False}}}
    assert _check("hardened", pillar) == [
        "deploy:profile hardened: security:ssh:password_authentication: is true, must be one of false",
        "deploy:profile hardened: security:ssh:permit_root_login: is false, must be 'no' (quoted: "
        "YAML reads an unquoted no as false)"]
    assert _check("hardened", {"security": {"ssh": {"password_authentication": False,
                                                    "permit_root_login": "no"}}}) == []
    assert _check("production", pillar) == []
