"""The preflight execution module's pillar assertions and the gate state that lists them."""

import pytest

from tests.support.saltmods import load

LISTED = "(listed in secrets:required, declared in secrets/provider.yaml)"


def _module(pillar, host="web1"):
    return load("_modules", "preflight", pillar=pillar, opts={"id": host})


def test_required_and_file_values_must_be_in_pillar():
    pillar = {"secrets": {"required": ["db_password", "api_token", "empty", "nested", "listed"],
                          "values": {"db_password": "s3cr3t-canary", "empty": "", "nested": {"a": 1},
                                     "listed": [1], "port": 0}},
              "core": {"secrets": {"files": {"db": {"value": "db_password"}, "port": {"value": "port"},
                                             "cert": {"value": "tls_key"}, "bad": {"mode": "0600"}}}}}
    problems = _module(pillar).secrets()
    assert problems == [
        "core:secrets:files:bad names no value",
        f"secrets:values:api_token is missing {LISTED}",
        f"secrets:values:empty is empty {LISTED}",
        f"secrets:values:nested is a mapping, not a single value {LISTED}",
        f"secrets:values:listed is a list, not a single value {LISTED}",
        "secrets:values:tls_key is missing (core.secrets writes it to cert)"]
    assert "s3cr3t-canary" not in str(problems)
    assert _module(pillar).secrets(file_values=False) == problems[1:5]


def test_values_key_and_shapes():
    module = _module({"core": {"secrets": {"values_key": "vault:kv", "files": {"db": {"value": "db"}}}},
                      "vault": {"kv": {"db": "x"}}, "secrets": {"required": ["db", "other"]}})
    assert module.secrets() == [f"vault:kv:other is missing {LISTED}"]
    assert _module({"secrets": {"required": "db"}, "core": {"secrets": {"files": ["db"]}}}).secrets() == [
        "secrets:required must be a list of secret names",
        "core:secrets:files must be a mapping of file name to {value: <name>}"]
    assert _module({"deploy": {"profile": "dev"}}).problems() == []


def _profile(profile=None, matches=None, host="web1"):
    deploy = {key: value for key, value in (("profile", profile), ("profile_matches", matches))
              if value is not None}
    return _module({"deploy": deploy} if deploy else {}, host).profile()


@pytest.mark.parametrize("profile", ["production", "hardened", "ephemeral", "dev"])
def test_one_profile_passes_however_it_is_set(profile):
    assert _profile(profile) == []  # set directly (the host's own pillar, or the file's default)
    assert _profile(profile, []) == []  # no list names the host
    assert _profile(profile, [profile]) == []  # the one list that names it


def test_an_unknown_profile_is_named():
    assert _profile("prod") == ["deploy:profile is 'prod', not one of production, hardened, ephemeral, dev"]
    assert _profile("prod", ["dev"]) == _profile("prod")  # the unknown name is the one problem


@pytest.mark.parametrize("deploy", [None, {}, {"profile": ""}, {"profile_matches": []}])
def test_a_host_in_no_profile_is_refused(deploy):
    module = _module({} if deploy is None else {"deploy": deploy}, "lab-7")
    assert module.profile() == [
        "deploy:profile is not set: lab-7 is in no profile, must be in exactly one of production, "
        "hardened, ephemeral, dev (assign it in pillar deploy/profiles.yaml)"]
    assert module.profile() == module.problems()[-1:]


def test_a_host_in_two_profiles_is_refused_naming_them():
    # two lists of deploy/profiles.yaml name it (pillar/deploy/init.sls then sets no profile)
    assert _profile(None, ["production", "dev"]) == [
        "deploy:profile is not set: web1 is in two profiles: production, dev (lists of pillar "
        "deploy/profiles.yaml name it), must be in exactly one"]
    # its own deploy:profile is not the profile its list names
    assert _profile("production", ["dev"]) == [
        "deploy:profile is 'production': web1 is in two profiles: dev (pillar deploy/profiles.yaml), "
        "production (its own deploy:profile), must be in exactly one"]
    # its own deploy:profile is one of the two lists that name it
    assert _profile("dev", ["production", "dev"]) == [
        "deploy:profile is 'dev': web1 is in two profiles: production, dev (lists of pillar "
        "deploy/profiles.yaml name it), must be in exactly one"]
    assert _profile("hardened", ["production", "dev"]) == [
        "deploy:profile is 'hardened': web1 is in three profiles: production, dev (pillar "
        "deploy/profiles.yaml), hardened (its own deploy:profile), must be in exactly one"]


def test_a_later_file_that_unsets_the_listed_profile_is_named():
    assert _profile("", ["dev"]) == [
        "deploy:profile is not set: pillar deploy/profiles.yaml puts web1 in dev, but a later "
        "pillar file sets deploy:profile to nothing"]


@pytest.mark.parametrize("test", [False, True])
def test_gate_fails_listing_every_problem_and_changes_nothing(test):
    found = [f"secrets:values:a is missing {LISTED}", "deploy:profile is 'x', …"]
    state = load("_states", "preflight", opts={"test": test},
                 salt={"preflight.problems": lambda file_values=True: found if file_values else []})
    ret = state.passed("pillar preflight")
    assert ret["result"] is False and ret["changes"] == {} and ret["problems"] == found
    assert ret["comment"].splitlines() == ["2 preflight problem(s):", *(f"  {p}" for p in found)]
    ret = state.passed("pillar preflight", file_values=False)
    assert ret["result"] is True and ret["changes"] == {} and ret["problems"] == []


def test_gate_lists_parameter_and_profile_problems_apart_too():
    parameter = "core:time:servers: is 'x', must be a list"
    rule = "deploy:profile production: health_check:fail_on_mandatory: is false, must be one of true"
    module = ["deploy:profile is not set: …"]
    state = load("_states", "preflight", opts={"test": True},
                 salt={"preflight.problems": lambda file_values=True: module})
    ret = state.passed("pillar preflight", parameter_problems=[parameter], profile_problems=[rule])
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["problems"] == [parameter, rule, *module]
    assert ret["parameter_problems"] == [parameter] and ret["profile_problems"] == [rule]
