"""
Facts about the host that roles use to decide what applies: virtualisation, container, init
system and boot mode.

Roles skip what cannot apply (no GRUB in a container, no microcode on a VM, no systemd settings
without systemd) by reading these facts instead of guessing; the bootstrap role records them in
``/etc/deploy-system/host-facts.json`` for people and other tools.
"""

import os

__virtualname__ = "hostfacts"

CONTAINER_MARKERS = ("/run/systemd/container", "/run/container_type")


def __virtual__():
    if __grains__.get("kernel") != "Linux":
        return (False, "hostfacts: only Linux hosts are supported")
    return __virtualname__


def _read(path, default=""):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return default


def container():
    """
    Return the container technology the host runs in, or an empty string on a VM or bare metal.

    CLI Example:

    .. code-block:: bash

        salt '*' hostfacts.container
    """
    for marker in CONTAINER_MARKERS:
        value = _read(marker)
        if value:
            return value
    if os.path.exists("/.dockerenv"):
        return "docker"
    return ""


def init_system():
    """
    Return ``systemd`` when systemd runs as PID 1, else the name of PID 1.

    CLI Example:

    .. code-block:: bash

        salt '*' hostfacts.init_system
    """
    if os.path.isdir("/run/systemd/system"):
        return "systemd"
    return _read("/proc/1/comm", "unknown")


def boot_mode():
    """
    Return ``uefi``, ``bios`` or ``none`` (a container boots no firmware).

    CLI Example:

    .. code-block:: bash

        salt '*' hostfacts.boot_mode
    """
    if container():
        return "none"
    return "uefi" if os.path.isdir("/sys/firmware/efi") else "bios"


def summary():
    """
    Return all facts as one dictionary.

    CLI Example:

    .. code-block:: bash

        salt '*' hostfacts.summary
    """
    in_container = container()
    return {
        "virtual": "container" if in_container else __grains__.get("virtual", "physical"),
        "virtual_subtype": in_container or __grains__.get("virtual_subtype", ""),
        "container": in_container,
        "init": init_system(),
        "boot_mode": boot_mode(),
    }
