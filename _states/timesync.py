"""
Verify the clock's synchronisation state (from the ``timesync`` module) without changing anything.

An unsynchronised clock is reported as a warning in the comment, not as a failure: a freshly
started chronyd, or a host that cannot reach its time sources, is not a broken deploy. A chronyd
that cannot be asked at all is a failure.
"""

from salt.exceptions import CommandExecutionError

__virtualname__ = "timesync"


def __virtual__():
    if "timesync.tracking" not in __salt__:
        return (False, "timesync: the timesync execution module is unavailable")
    return __virtualname__


def verified(name):
    """
    Report whether chronyd has synchronised the clock. Never changes anything; ``result`` is True
    whether or not the clock is synchronised (an unsynchronised clock is a warning), False only
    when chronyd cannot be asked.

    name
        A label for the check (e.g. ``chronyd``).

    .. code-block:: yaml

        clock-synchronised:
          timesync.verified:
            - name: chronyd
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    try:
        status = __salt__["timesync.tracking"]()
    except CommandExecutionError as exc:
        ret["result"] = None if __opts__["test"] else False
        ret["comment"] = f"cannot read the synchronisation state: {exc}"
        return ret
    if status["synced"]:
        ret["comment"] = (f"synchronised to {status.get('Reference ID')} "
                          f"(stratum {status.get('Stratum')}, {status.get('System time')})")
    else:
        ret["comment"] = (f"WARNING: not synchronised (leap status: {status['Leap status']}); "
                          "chronyd runs and keeps trying its sources")
        ret["warnings"] = [ret["comment"]]
    return ret
