"""
Which entropy daemon a host needs, by the rule the ``core.entropy`` role documents; shared by the
``entropy`` execution module and the ``dsu_entropy`` grain.

Modes: ``haveged`` and ``rng-tools`` choose that daemon; ``none`` chooses no daemon; ``auto``
chooses none on Linux 5.6 and later, whose random driver is a CSPRNG that never blocks once it has
been initialised at boot (``/dev/random`` behaves like ``getrandom()``), so a daemon adds nothing,
and ``haveged`` on older kernels, where readers of ``/dev/random`` could starve.
"""

import re

from salt.exceptions import CommandExecutionError

MODES = ("auto", "haveged", "rng-tools", "none")
NONBLOCKING_KERNEL = (5, 6)


def modes():
    return list(MODES)


def _kernel_version(release):
    match = re.match(r"(\d+)\.(\d+)", release or "")
    if not match:
        raise CommandExecutionError(f"cannot read a kernel version from {release!r}")
    return int(match.group(1)), int(match.group(2))


def choose(mode, release):
    """``{"daemon": "haveged" | "rng-tools" | "", "reason": "..."}`` for *mode* on kernel *release*."""
    if mode not in MODES:
        raise CommandExecutionError(f"entropy mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "none":
        return {"daemon": "", "reason": "mode is none (pillar core:entropy:mode)"}
    if mode != "auto":
        return {"daemon": mode, "reason": f"mode is {mode}"}
    if _kernel_version(release) >= NONBLOCKING_KERNEL:
        return {"daemon": "", "reason": f"kernel {release} is 5.6 or later: its CSPRNG never blocks "
                                        "once initialised, so no entropy daemon is needed"}
    return {"daemon": "haveged", "reason": f"kernel {release} is older than 5.6: "
                                           "/dev/random may block, haveged feeds it"}
