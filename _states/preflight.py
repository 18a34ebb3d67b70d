"""
The preflight gate: fails, listing every problem ``preflight.problems`` finds in the host's
compiled pillar, and changes nothing, with or without ``test=True``.

The state's return carries the problems as a list under the extra key ``problems``, so
``dsu preflight`` can print one line per problem.

.. code-block:: yaml

    preflight-pillar:
      preflight.passed:
        - file_values: True
"""

__virtualname__ = "preflight"


def __virtual__():
    if "preflight.problems" not in __salt__:
        return (False, "preflight: the preflight execution module is not available")
    return __virtualname__


def passed(name, file_values=True):
    """
    Succeed when the host's pillar has no preflight problem; fail listing them all otherwise.

    name
        A label for the gate.
    file_values
        Also require every value named by ``core:secrets:files`` (default True).
    """
    problems = __salt__["preflight.problems"](file_values=file_values)
    ret = {"name": name, "changes": {}, "result": not problems, "problems": problems}
    if problems:
        ret["comment"] = "\n".join([f"{len(problems)} preflight problem(s):",
                                    *(f"  {p}" for p in problems)])
    else:
        ret["comment"] = "preflight passed: the required secrets are in pillar, deploy:profile is known"
    return ret
