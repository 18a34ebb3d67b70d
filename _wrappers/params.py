"""
salt-ssh wrapper of the ``params`` execution module: the parameter-contract check runs where
salt-ssh renders a target's states, on the operator's side, instead of one SSH round trip to the
target per role. Found through the project's ``salt.loader`` entry point (dsu/saltext.py).
"""

import importlib.util
import os

__virtualname__ = "params"

_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "_utils")


def __virtual__():
    if not os.path.isfile(os.path.join(_UTILS, "param_contract.py")):
        return (False, f"params: no param_contract.py in {_UTILS}")
    return __virtualname__


def _contracts():
    # The wrapper loader has no __utils__: the utility module is loaded from this checkout once.
    if "params.param_contract" not in __context__:
        spec = importlib.util.spec_from_file_location(
            "dsu_wrapper_param_contract", os.path.join(_UTILS, "param_contract.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        __context__["params.param_contract"] = module
    return __context__["params.param_contract"]


def check(contract, values, key):
    """
    Every way *values* under pillar *key* break *contract* (see ``_modules/params.py``).

    CLI Example:

    .. code-block:: bash

        salt-ssh '*' params.check '{"fields": {"mode": {"one_of": [auto]}}}' '{"mode": x}' core:entropy
    """
    return _contracts().check(contract, values, key)
