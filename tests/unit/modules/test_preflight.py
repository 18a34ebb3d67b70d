"""The preflight execution module's pillar assertions and the gate state that lists them."""

import pytest

from tests.support.saltmods import load

LISTED = "(listed in secrets:required, declared in secrets/provider.yaml)"


def _module(pillar):
    return load("_modules", "preflight", pillar=pillar)


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
    assert _module({}).problems() == []


def test_profile_contract():
    assert _module({"deploy": {"profile": "production"}}).profile() == []
    assert _module({"deploy": {"profile": "prod"}}).profile() == \
        ["deploy:profile is 'prod', not one of production, hardened, ephemeral, dev"]


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
