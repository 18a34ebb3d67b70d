"""
Arm the access guard (the ``access_guard`` execution module) before changes that could lock the
operator out. Every run arms it anew, so it always reports a change: the timer is restarted and
the snapshot retaken. Disarming is the operator's step after proving a login
(``salt-ssh HOST access_guard.disarm``), never a state's.

.. code-block:: yaml

    security-bootstrap-guard-armed:
      access_guard.armed:
        - name: dsu-access-revert
        - seconds: 300
"""

from salt.exceptions import CommandExecutionError

__virtualname__ = "access_guard"


def __virtual__():
    if "access_guard.arm" not in __salt__:
        return (False, "access_guard: the access_guard execution module is unavailable")
    return __virtualname__


def armed(name, seconds=300, files=None, ssh_service="ssh", nft_service="nftables"):
    """
    Snapshot the guarded files and nftables' state and (re)start the timer that reverts them in
    *seconds* unless ``access_guard.disarm`` runs first.

    name
        A label (the timer's unit is always ``dsu-access-revert``).
    seconds
        Time until the revert, a whole number of seconds.
    files, ssh_service, nft_service
        As ``access_guard.arm``.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    if __opts__["test"]:
        ret.update(result=None, changes={"armed": f"{seconds}s"},
                   comment=f"the access guard would be armed: a revert in {seconds} s unless "
                           "disarmed")
        return ret
    try:
        armed_now = __salt__["access_guard.arm"](seconds, files=files, ssh_service=ssh_service,
                                                 nft_service=nft_service)
    except CommandExecutionError as exc:
        ret.update(result=False, comment=f"the access guard could not be armed: {exc}")
        return ret
    ret.update(changes={"armed": armed_now},
               comment=f"access guard armed: reverts at {armed_now['fires_at']} "
                       f"({armed_now['seconds']} s) unless access_guard.disarm runs first")
    return ret
