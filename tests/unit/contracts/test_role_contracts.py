"""Every role's parameter contract (salt/<area>/<role>/parameters/contract.yaml): well formed, met
by the role's own defaults, and, case by case (tests/unit/contracts/cases/<role>.yaml), met by
good pillar and broken by bad pillar with the problems named.

A case file:

    role: core/time            # the role's directory under salt/
    key: core:time             # its pillar key
    good:                      # pillar values (merged over the defaults) that pass
      - {servers: [ntp.example.org]}
    bad:                       # pillar values, and a piece of each problem expected (all of them)
      - pillar: {servers: ntp.example.org}
        problems: ["core:time:servers: is 'ntp.example.org', must be a list"]
"""

from pathlib import Path

import pytest
import salt.utils.dictupdate
import yaml

from tests.conftest import REPO
from tests.support.saltmods import load

contracts = load("_utils", "param_contract")

ROLES = sorted(p.parent.parent.relative_to(REPO / "salt")
               for p in (REPO / "salt").glob("*/*/parameters/defaults.yaml"))
CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))


def _yaml(path):
    return yaml.safe_load(path.read_text()) or {}


def _contract(role):
    return _yaml(REPO / "salt" / role / "parameters" / "contract.yaml")


def _defaults(role):
    return _yaml(REPO / "salt" / role / "parameters" / "defaults.yaml")["values"]


def _merged(role, pillar):
    # slsutil.merge's default: recursive, pillar wins, lists replaced
    return salt.utils.dictupdate.merge(_defaults(role), pillar or {}, strategy="smart")


@pytest.mark.parametrize("role", ROLES, ids=str)
def test_every_role_has_a_well_formed_contract(role):
    contract = _contract(role)
    assert contract, f"salt/{role}/parameters/contract.yaml is missing or empty"
    assert contracts.contract_problems(dict(contract, type="mapping")) == []


@pytest.mark.parametrize("role", ROLES, ids=str)
def test_the_defaults_meet_the_contract(role):
    assert contracts.check(_contract(role), _defaults(role), str(role)) == []


@pytest.mark.parametrize("role", ROLES, ids=str)
def test_every_role_has_cases(role):
    assert any(_yaml(c).get("role") == str(role) for c in CASES), f"no case file for {role}"


def _cases(kind):
    for path in CASES:
        spec = _yaml(path)
        for index, case in enumerate(spec.get(kind) or []):
            yield pytest.param(spec, case, id=f"{path.stem}-{kind}-{index}")


@pytest.mark.parametrize(("spec", "pillar"), list(_cases("good")))
def test_good_pillar_passes(spec, pillar):
    assert contracts.check(_contract(spec["role"]), _merged(spec["role"], pillar), spec["key"]) == []


@pytest.mark.parametrize(("spec", "case"), list(_cases("bad")))
def test_bad_pillar_is_named(spec, case):
    found = contracts.check(_contract(spec["role"]), _merged(spec["role"], case["pillar"]), spec["key"])
    assert len(found) == len(case["problems"]), found
    for expected in case["problems"]:
        assert any(expected in line for line in found), (expected, found)
    for line in found:
        assert line.startswith(spec["key"] + ":"), line
