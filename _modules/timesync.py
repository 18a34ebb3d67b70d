"""
Synchronisation state of the host's clock as chrony reports it (``chronyc -n tracking``).

Read-only: the ``core.time`` role's verification state uses it to report whether the clock is
synchronised, as a warning rather than a failure when it is not.
"""

from salt.exceptions import CommandExecutionError

__virtualname__ = "timesync"

SYNCED_LEAP_STATES = ("Normal", "Insert second", "Delete second")


def __virtual__():
    if __grains__.get("kernel") != "Linux":
        return (False, "timesync: only Linux hosts are supported")
    return __virtualname__


def parse_tracking(text):
    """
    Parse the output of ``chronyc -n tracking`` into a dictionary of its fields, plus ``synced``:
    True when chronyd has selected a reference and the leap status says it is synchronised.

    CLI Example:

    .. code-block:: bash

        salt '*' timesync.parse_tracking "$(chronyc -n tracking)"
    """
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    if "Leap status" not in fields:
        raise CommandExecutionError(f"not chronyc tracking output: {text[:200]!r}")
    reference = fields.get("Reference ID", "").split(" ", 1)[0]
    fields["synced"] = (fields["Leap status"] in SYNCED_LEAP_STATES
                        and reference not in ("", "00000000"))
    return fields


def tracking():
    """
    Return chronyd's tracking report as a dictionary with ``synced`` (bool); raise
    CommandExecutionError when chronyd cannot be asked (not running, no access).

    CLI Example:

    .. code-block:: bash

        salt '*' timesync.tracking
    """
    ret = __salt__["cmd.run_all"](["chronyc", "-n", "tracking"], python_shell=False,
                                  ignore_retcode=True)
    if ret["retcode"] != 0:
        raise CommandExecutionError(f"chronyc -n tracking failed: {ret['stderr'] or ret['stdout']}")
    return parse_tracking(ret["stdout"])
