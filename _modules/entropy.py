"""
Which entropy daemon a host needs, by the rule the ``core.entropy`` role documents.

Modes: ``haveged`` and ``rng-tools`` choose that daemon; ``none`` chooses no daemon; ``auto``
chooses none on Linux 5.6 and later, whose random driver is a CSPRNG that never blocks once it has
been initialised at boot (``/dev/random`` behaves like ``getrandom()``), so a daemon adds nothing,
and ``haveged`` on older kernels, where readers of ``/dev/random`` could starve.
"""

import re

from salt.exceptions import CommandExecutionError

__virtualname__ = "entropy"

MODES = ("auto", "haveged", "rng-tools", "none")
NONBLOCKING_KERNEL = (5, 6)


def __virtual__():
    if __grains__.get("kernel") != "Linux":
        return (False, "entropy: only Linux kernels are covered by the rule")
    return __virtualname__


def _kernel_version(release):
    match = re.match(r"(\d+)\.(\d+)", release or "")
    if not match:
        raise CommandExecutionError(f"cannot read a kernel version from {release!r}")
    return int(match.group(1)), int(match.group(2))


def choose(mode="auto", kernelrelease=None):
    """
    Return ``{"daemon": "haveged" | "rng-tools" | "", "reason": "..."}`` for *mode* on a kernel
    (default: the running one, grains ``kernelrelease``).

    CLI Example:

    .. code-block:: bash

        salt '*' entropy.choose
        salt '*' entropy.choose mode=auto kernelrelease=5.4.0-150-generic
    """
    if mode not in MODES:
        raise CommandExecutionError(f"entropy mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "none":
        return {"daemon": "", "reason": "mode is none (pillar core:entropy:mode)"}
    if mode != "auto":
        return {"daemon": mode, "reason": f"mode is {mode}"}
    release = kernelrelease or __grains__.get("kernelrelease", "")
    if _kernel_version(release) >= NONBLOCKING_KERNEL:
        return {"daemon": "", "reason": f"kernel {release} is 5.6 or later: its CSPRNG never blocks "
                                        "once initialised, so no entropy daemon is needed"}
    return {"daemon": "haveged", "reason": f"kernel {release} is older than 5.6: "
                                           "/dev/random may block, haveged feeds it"}
