"""Deployment profiles end to end (docs/profiles.md): `dsu preflight` as a subprocess against one
real Debian 12 lab host, the host put in each profile in turn by a pillar tree's
deploy/profiles.yaml (--pillar-root; the tree of tests/support/preflighttree.py, its secrets
included, with the host's own deploy:profile taken out of defaults.sls).

- in each profile, with a pillar that meets the profile's contract: exit 0;
- in each profile, with a pillar that breaks one rule of it: exit 1, the line naming host,
  profile, rule and the pillar file that sets it;
- in no profile, and in two: exit 1, naming host and profiles;
- and the host unchanged by all of it (tests/support/hostsnapshot.py).

The in-process checks of every rule are tests/functional/test_profiles.py; this proves the same
through salt-ssh: the pillar compiled on the operator's side for the roster's host name, the
preflight SLS rendered there, the gate run on the host."""


import pytest
import yaml

from tests.support import hostsnapshot
from tests.support.dsucli import run_dsu
from tests.support.preflighttree import CANARIES, operator_env, write_tree
from tests.support.sopskeys import stop_gpg_agent

HOST_FILE = "host.sls"  # the host's own pillar, added to every host's top (as the corpus's case.sls)
WHOLE = '{"*": ["deploy", "defaults", "secrets.provider"]}'
GOOD = {
    "production": {"health_check": {"fail_on_mandatory": True}, "security": {"firewall": {"enabled": True}}},
    "hardened": {"security": {"ssh": {"password_authentication": False, "permit_root_login": "no"}}},
    "ephemeral": {"core": {"secrets": {"tmpfs": True}}},
    "dev": {"deploy": {"fail_secure": False}},
}
BREAK = {  # one rule of each profile broken: (the host's pillar, the rule as preflight names it)
    "production": ({"health_check": {"fail_on_mandatory": False}},
                   "health_check:fail_on_mandatory: is false, must be one of true"),
    "hardened": ({"security": {"ssh": {"password_authentication": True}}},
                 "security:ssh:password_authentication: is true, must be one of false"),
    "ephemeral": ({"core": {"secrets": {"tmpfs": False}}},
                  "core:secrets:tmpfs: is false, must be one of true"),
    "dev": ({"security": {"firewall": {"enabled": False}}},
            "security:firewall:enabled: is false, must be one of true"),
}


def _tree(tmp_path, keys, host, profiles, host_pillar=None):
    tree = write_tree(tmp_path, keys, host.name)
    defaults = yaml.safe_load((tree.pillar / "defaults.sls").read_text())
    del defaults["deploy"]  # the profile comes from profiles.yaml alone
    (tree.pillar / "defaults.sls").write_text(yaml.safe_dump(defaults))
    top = tree.pillar / "top.sls"
    assert WHOLE in top.read_text()
    top.write_text(top.read_text().replace(WHOLE, WHOLE[:-2] + f', "{HOST_FILE[:-4]}"]}}'))
    (tree.pillar / HOST_FILE).write_text(yaml.safe_dump(host_pillar or {}))
    (tree.pillar / "deploy/profiles.yaml").write_text(yaml.safe_dump({**profiles, "default": None}))
    return tree


def _preflight(host, before, tree, tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = operator_env(tree, temp, XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    stop_gpg_agent(tree.keys.path)
    proc = run_dsu("preflight", host.name, "--config-dir", str(tree.config), "--pillar-root",
                   str(tree.pillar), env=env)
    stop_gpg_agent(tree.keys.path)
    for secret in CANARIES.values():
        assert secret not in proc.stdout + proc.stderr, "a secret value was printed"
    hostsnapshot.assert_unchanged(host, before, "preflight")
    return proc


def _target_lines(proc, host):
    return [line for line in proc.stdout.splitlines() if line.startswith(f"{host.name}: ")]


@pytest.mark.parametrize("profile", list(GOOD))
def test_a_host_that_meets_its_profile_passes(host, keys, before, tmp_path, profile):
    tree = _tree(tmp_path, keys, host, {profile: [host.name]}, GOOD[profile])
    proc = _preflight(host, before, tree, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"preflight {host.name}: passed"), proc.stdout


@pytest.mark.parametrize("profile", list(BREAK))
def test_a_break_of_its_profile_is_refused_naming_host_profile_rule_and_file(host, keys, before,
                                                                           tmp_path, profile):
    pillar, rule = BREAK[profile]
    tree = _tree(tmp_path, keys, host, {profile: [host.name[:2] + "*"]}, {**GOOD[profile], **pillar})
    proc = _preflight(host, before, tree, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert _target_lines(proc, host) == [
        f"{host.name}: deploy:profile {profile}: {rule} (set in {tree.pillar / HOST_FILE})"], proc.stdout


def test_a_host_in_no_profile_is_refused(host, keys, before, tmp_path):
    tree = _tree(tmp_path, keys, host, {"production": ["web*"], "dev": ["lab-*"]})
    proc = _preflight(host, before, tree, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert _target_lines(proc, host) == [
        f"{host.name}: deploy:profile is not set: {host.name} is in no profile, must be in exactly "
        "one of production, hardened, ephemeral, dev (assign it in pillar deploy/profiles.yaml)"], proc.stdout


def test_a_host_in_two_profiles_is_refused(host, keys, before, tmp_path):
    tree = _tree(tmp_path, keys, host, {"production": [host.name], "dev": [host.name[:3] + "*"]})
    proc = _preflight(host, before, tree, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert _target_lines(proc, host) == [
        f"{host.name}: deploy:profile is not set: {host.name} is in two profiles: production, dev "
        "(lists of pillar deploy/profiles.yaml name it), must be in exactly one"], proc.stdout
