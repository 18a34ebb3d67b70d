"""
Parameter contracts (``_utils/param_contract.py``) as an execution module: the check each role's
``map.jinja`` makes when it renders (core/libparams.jinja), and preflight's. Read-only.

Under salt-ssh the same functions come from ``_wrappers/params.py`` on the operator's side, so a
render never costs an SSH round trip for them.
"""

__virtualname__ = "params"


def __virtual__():
    if "param_contract.check" not in __utils__:
        return (False, "params: the param_contract utility module is not available")
    return __virtualname__


def check(contract, values, key):
    """
    Every way the merged parameters *values* under pillar *key* break the role's *contract*, one
    line each (empty list: none).

    CLI Example:

    .. code-block:: bash

        salt '*' params.check '{"fields": {"mode": {"one_of": [auto, none]}}}' '{"mode": fast}' core:entropy
    """
    return __utils__["param_contract.check"](contract, values, key)
