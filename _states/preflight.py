"""
The preflight gate: fails, listing every problem ``preflight.problems`` finds in the host's
compiled pillar and every parameter and profile problem the SLS found (the roles' contracts and
the deployment profile's contract, checked while salt/preflight renders), and changes nothing,
with or without ``test=True``.

The state's return carries the problems as a list under the extra key ``problems``, so
``dsu preflight`` can print one line per problem, and the parameter and profile problems among
them under ``parameter_problems`` and ``profile_problems`` (it names the pillar file that sets
each key).

.. code-block:: yaml

    preflight-pillar:
      preflight.passed:
        - file_values: True
        - parameter_problems: []
        - profile_problems: []
"""

__virtualname__ = "preflight"


def __virtual__():
    if "preflight.problems" not in __salt__:
        return (False, "preflight: the preflight execution module is not available")
    return __virtualname__


def passed(name, file_values=True, parameter_problems=None, profile_problems=None):
    """
    Succeed when the host's pillar has no preflight problem; fail listing them all otherwise.

    name
        A label for the gate.
    file_values
        Also require every value named by ``core:secrets:files`` (default True).
    parameter_problems
        Problems with the roles' parameters found while rendering (one line each), reported
        with the others.
    profile_problems
        Rules of the host's deployment profile its pillar breaks, found while rendering (one line
        each, ``deploy:profile <profile>: <key>: <what>``), reported with the others.
    """
    parameters, profile = list(parameter_problems or []), list(profile_problems or [])
    problems = parameters + profile + __salt__["preflight.problems"](file_values=file_values)
    ret = {"name": name, "changes": {}, "result": not problems, "problems": problems,
           "parameter_problems": parameters, "profile_problems": profile}
    if problems:
        ret["comment"] = "\n".join([f"{len(problems)} preflight problem(s):",
                                    *(f"  {p}" for p in problems)])
    else:
        ret["comment"] = ("preflight passed: every role's parameters meet its contract, the required "
                          "secrets are in pillar, the host is in one deployment profile and meets "
                          "its contract")
    return ret
