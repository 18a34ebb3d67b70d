"""Deployment profiles (docs/profiles.md), in-process over this repo's pillar tree and salt/preflight:
pillar/deploy/init.sls puts a host in the profile deploy/profiles.yaml assigns it (globs on the
minion id, a default, a host's own deploy:profile), the preflight SLS checks the host's pillar
against its profile's contract (salt/preflight/profiles/), and the preflight module refuses a host
in no profile or in two. The lines are read as `dsu preflight` prints them (host first, the pillar
file that sets the key last); salt-ssh is the only part left out (tests/integration/
test_profiles.py runs it on a lab host). Nothing is applied."""

import shutil

import pytest
import salt.client
import salt.pillar
import yaml

from dsu import preflight
from dsu.saltssh import SaltRun
from tests.conftest import REPO
from tests.support.saltmods import load

STATE = "preflight_|-preflight-pillar_|-pillar preflight_|-passed"
WHOLE = '{"*": ["deploy", "defaults", "secrets.provider"]}'
ASSIGNED = {"production": ["web*"], "hardened": ["bastion*"], "ephemeral": ["ci-*"],
            "dev": ["lab-*"], "default": None}
HOST = {"production": "web1", "hardened": "bastion1", "ephemeral": "ci-7", "dev": "lab-2"}
# a pillar of each profile's host that meets the contract, saying what the rules are about
GOOD = {
    "production": {"health_check": {"fail_on_mandatory": True}, "security": {"firewall": {"enabled": True}}},
    "hardened": {"security": {"firewall": {"enabled": True},
                              "ssh": {"password_authentication": False, "permit_root_login": "no"}}},
    "ephemeral": {"core": {"secrets": {"tmpfs": True}}},
    "dev": {"deploy": {"fail_secure": False}},
}
# each break of each profile's contract: (pillar merged over GOOD, the rule named)
BREAKS = [
    ("production", {"health_check": {"fail_on_mandatory": False}},
     "health_check:fail_on_mandatory: is false, must be one of true"),
    ("production", {"deploy": {"fail_secure": False}}, "deploy:fail_secure: is false, must be one of true"),
    ("production", {"security": {"firewall": {"enabled": False}}},
     "security:firewall:enabled: is false, must be one of true"),
    ("hardened", {"health_check": {"fail_on_mandatory": False}},
     "health_check:fail_on_mandatory: is false, must be one of true"),
    ("hardened", {"deploy": {"fail_secure": False}}, "deploy:fail_secure: is false, must be one of true"),
    ("hardened", {"security": {"firewall": {"enabled": False}}},
     "security:firewall:enabled: is false, must be one of true"),
    ("hardened", {"security": {"ssh": {"password_authentication": True}}},
     "security:ssh:password_authentication: is true, must be one of false"),
    ("hardened", {"security": {"ssh": {"permit_root_login": "prohibit-password"}}},
     "security:ssh:permit_root_login: is 'prohibit-password', must be 'no'"),
    ("ephemeral", {"core": {"secrets": {"tmpfs": False}}},
     "core:secrets:tmpfs: is false, must be one of true"),
    ("ephemeral", {"deploy": {"fail_secure": False}}, "deploy:fail_secure: is false, must be one of true"),
    ("ephemeral", {"security": {"firewall": {"enabled": False}}},
     "security:firewall:enabled: is false, must be one of true"),
    ("dev", {"deploy": {"fail_secure": "off"}}, "deploy:fail_secure: is 'off', must be true or false"),
    ("dev", {"security": {"firewall": {"enabled": False}}},
     "security:firewall:enabled: is false, must be one of true"),
]


@pytest.fixture
def tree(tmp_path, minion_opts):
    """The repo's pillar tree with deploy/profiles.yaml replaced and one more file for every host
    (host.sls, the host's own pillar): write(profiles, host_pillar)."""
    pillar = tmp_path / "pillar-tree"
    shutil.copytree(REPO / "pillar", pillar)
    top = pillar / "top.sls"
    assert WHOLE in top.read_text()
    top.write_text(top.read_text().replace(WHOLE, WHOLE[:-2] + ', "host"]}'))
    minion_opts["pillar_roots"] = {"base": [str(pillar)]}

    def write(profiles=None, host_pillar=None):
        assigned = ASSIGNED if profiles is None else profiles
        (pillar / "deploy/profiles.yaml").write_text(yaml.safe_dump(assigned))
        (pillar / "host.sls").write_text(yaml.safe_dump(host_pillar or {}))
        return pillar

    return write


def _pillar(minion_opts, host):
    opts = dict(minion_opts, id=host)
    return salt.pillar.get_pillar(opts, opts["grains"], host, "base").compile_pillar()


def _merge(*layers):
    merged = {}
    for layer in layers:
        for key, value in layer.items():
            merged[key] = _merge(merged[key], value) if isinstance(value, dict) and \
                isinstance(merged.get(key), dict) else value
    return merged


def _preflight(minion_opts, pillar_root, host):
    """What `dsu preflight <host>` prints of the preflight state (no salt-ssh): salt/preflight
    rendered for *host*, its gate's return with the module's problems, read by dsu."""
    caller = salt.client.Caller(mopts=dict(minion_opts, id=host))
    rendered = caller.cmd("state.show_sls", "preflight")
    assert isinstance(rendered, dict), rendered
    args = {k: v for arg in rendered["preflight-pillar"]["preflight"] if isinstance(arg, dict)
            for k, v in arg.items()}
    module = caller.cmd("preflight.problems", file_values=args["file_values"])
    state = load("_states", "preflight", opts={"test": True},
                 salt={"preflight.problems": lambda file_values=True: module})
    ret = state.passed(args["name"], args["file_values"], args["parameter_problems"],
                       args["profile_problems"])
    ret["__id__"] = "preflight-pillar"
    return [p.line() for p in preflight.target_problems(host, SaltRun(1, {host: {STATE: ret}}, ""),
                                                        [pillar_root])]


def _deploy(minion_opts, host):
    """The host's deploy pillar less the health checks (tested above)."""
    deploy = _pillar(minion_opts, host)["deploy"]
    deploy.pop("health_checks")
    return deploy


# --- the assignment: pillar/deploy/init.sls --------------------------------------------------------

@pytest.mark.parametrize("profile", list(HOST))
def test_the_list_that_names_the_host_is_its_profile(tree, minion_opts, profile):
    tree()
    deploy = _pillar(minion_opts, HOST[profile])["deploy"]
    checks = deploy.pop("health_checks")
    assert deploy == {"profile": profile, "profile_matches": [profile], "fail_secure": True}
    # Every profile's health checks (deploy/health.yaml), for health.check profile=True.
    assert checks["all"]["use_defaults"] is False and "chrony.service" in checks["all"]["units"]
    assert set(checks) == {"all", "production", "hardened", "ephemeral", "dev"}


def test_no_list_and_no_default_two_lists_the_default_and_a_hosts_own_profile(tree, minion_opts):
    tree()
    assert _deploy(minion_opts, "db1") == {"profile_matches": [], "fail_secure": True}
    tree(dict(ASSIGNED, dev=["lab-*", "web*"]))
    assert _deploy(minion_opts, "web1") == {"profile_matches": ["production", "dev"],
                                            "fail_secure": True}
    tree(dict(ASSIGNED, default="dev"))
    assert _pillar(minion_opts, "db1")["deploy"]["profile"] == "dev"
    assert _pillar(minion_opts, "web1")["deploy"]["profile"] == "production"  # a list wins
    # a host's own deploy:profile (any file after deploy/init.sls) overrides; preflight compares
    tree(dict(ASSIGNED, default="dev"), {"deploy": {"profile": "hardened", "fail_secure": False}})
    assert _deploy(minion_opts, "db1") == {"profile": "hardened", "profile_matches": [],
                                           "fail_secure": False}
    assert _pillar(minion_opts, "web1")["deploy"]["profile_matches"] == ["production"]


def test_the_shipped_assignment_puts_any_lab_host_in_dev(tree, minion_opts):
    pillar_root = tree()
    shutil.copy(REPO / "pillar/deploy/profiles.yaml", pillar_root / "deploy/profiles.yaml")
    for host in ("quickstart", "p4242", "cli-1"):
        assert _pillar(minion_opts, host)["deploy"]["profile"] == "dev"
        assert _preflight(minion_opts, pillar_root, host) == []


@pytest.mark.parametrize("profiles, says", [
    ({"prod": ["web1"]}, "deploy/profiles.yaml: prod is not a profile, must be one of production, "
                         "hardened, ephemeral, dev or default"),
    ({"dev": "lab-*"}, "deploy/profiles.yaml: dev must be a list of minion id globs"),
    ({"dev": [["lab-*"]]}, "deploy/profiles.yaml: dev must be a list of minion id globs (strings)"),
    ({"default": "staging"}, "deploy/profiles.yaml: default must be one of production, hardened, "
                             "ephemeral, dev or null"),
    (["web1"], "deploy/profiles.yaml: must be a mapping of profile to a list of minion id globs"),
])
def test_a_malformed_assignment_stops_the_pillar_naming_the_file(tree, minion_opts, caplog, profiles, says):
    tree(profiles)
    pillar = _pillar(minion_opts, "web1")
    assert pillar["_errors"] == ["Rendering SLS 'deploy' failed. Please see master log for details."]
    assert says in caplog.text


# --- the contracts and the gate: salt/preflight ----------------------------------------------------

@pytest.mark.parametrize("profile", list(HOST))
def test_each_profile_passes_with_a_good_pillar_and_one_that_says_nothing(tree, minion_opts, profile):
    host = HOST[profile]
    assert _preflight(minion_opts, tree(host_pillar=GOOD[profile]), host) == []
    silent = {"core": {"secrets": {"tmpfs": True}}} if profile == "ephemeral" else {}
    assert _preflight(minion_opts, tree(host_pillar=silent), host) == []


@pytest.mark.parametrize("profile, pillar, rule", BREAKS,
                         ids=[f"{p}-{r.split(': ')[0]}" for p, _, r in BREAKS])
def test_each_break_is_refused_naming_host_profile_rule_and_file(tree, minion_opts, profile, pillar, rule):
    host = HOST[profile]
    root = tree(host_pillar=_merge(GOOD[profile], pillar))
    lines = _preflight(minion_opts, root, host)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{host}: deploy:profile {profile}: {rule}"), lines
    assert lines[0].endswith(f" (set in {root}/host.sls)"), lines


def test_every_break_at_once(tree, minion_opts):
    pillar = {"health_check": {"fail_on_mandatory": False}, "deploy": {"fail_secure": False},
              "security": {"firewall": {"enabled": False},
                           "ssh": {"password_authentication": True, "permit_root_login": "yes"}}}
    lines = _preflight(minion_opts, tree(host_pillar=pillar), "bastion1")
    assert [line.split(": ", 2)[2].split(",")[0] for line in lines] == [
        "deploy:fail_secure: is false", "health_check:fail_on_mandatory: is false",
        "security:firewall:enabled: is false", "security:ssh:password_authentication: is true",
        "security:ssh:permit_root_login: is 'yes'"]


def test_a_host_in_no_profile_is_refused(tree, minion_opts):
    assert _preflight(minion_opts, tree(), "db1") == [
        "db1: deploy:profile is not set: db1 is in no profile, must be in exactly one of production, "
        "hardened, ephemeral, dev (assign it in pillar deploy/profiles.yaml)"]


def test_a_host_in_two_profiles_is_refused(tree, minion_opts):
    # two lists name it: no contract is checked, whichever it is
    root = tree(dict(ASSIGNED, dev=["lab-*", "web*"]), {"health_check": {"fail_on_mandatory": False}})
    assert _preflight(minion_opts, root, "web1") == [
        "web1: deploy:profile is not set: web1 is in two profiles: production, dev (lists of pillar "
        "deploy/profiles.yaml name it), must be in exactly one"]
    # its own deploy:profile disagrees with the list that names it: the file that sets it is named
    root = tree(host_pillar={"deploy": {"profile": "dev"}})
    assert _preflight(minion_opts, root, "web1") == [
        "web1: deploy:profile is 'dev': web1 is in two profiles: production (pillar deploy/profiles.yaml), "
        f"dev (its own deploy:profile), must be in exactly one (set in {root}/host.sls)"]


def test_a_hosts_own_profile_alone_is_checked_as_the_lists_are(tree, minion_opts):
    root = tree(host_pillar={"deploy": {"profile": "production", "fail_secure": False}})
    assert _preflight(minion_opts, root, "db1") == [
        f"db1: deploy:profile production: deploy:fail_secure: is false, must be one of true "
        f"(set in {root}/host.sls)"]
    root = tree(host_pillar={"deploy": {"profile": "staging"}})
    assert _preflight(minion_opts, root, "db1") == [
        f"db1: deploy:profile is 'staging', not one of production, hardened, ephemeral, dev "
        f"(set in {root}/host.sls)"]
