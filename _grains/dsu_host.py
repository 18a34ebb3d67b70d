"""
Grains the roles decide by: ``dsu_host`` (virtualisation, container, init system, boot mode, CPU
vendor) and ``dsu_entropy`` (what each ``core:entropy:mode`` means on the running kernel).

Why grains and not execution-module calls from the templates: under salt-ssh every ``salt[...]``
call while rendering is one more SSH round trip with a fresh Python on the host (about 1.5 s),
while grains arrive with the run's first answer. salt-call and minions load them once per run or
start; none of these facts change while a host runs. (Grains may be cached: salt-ssh keeps them
for 5 minutes on the host, a minion until it restarts. So nothing that a state changes belongs
here: the APT sources, which core.repositories rewrites, are read by ``aptsources.current``.)
"""

import os
import re

CONTAINER_MARKERS = ("/run/systemd/container", "/run/container_type")


def _read(path, default=""):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return default


def _container():
    for marker in CONTAINER_MARKERS:
        value = _read(marker)
        if value:
            return value
    return "docker" if os.path.exists("/.dockerenv") else ""


def _init_system():
    if os.path.isdir("/run/systemd/system"):
        return "systemd"
    return _read("/proc/1/comm", "unknown")


def _cpu_vendor():
    match = re.search(r"^vendor_id\s*:\s*(\S+)", _read("/proc/cpuinfo"), re.M)
    return match.group(1) if match else "unknown"


def dsu_host(grains):
    """The host facts; empty on anything but Linux (the roles cover Debian)."""
    if grains.get("kernel") != "Linux":
        return {}
    container = _container()
    if container:
        boot_mode = "none"  # a container boots no firmware
    else:
        boot_mode = "uefi" if os.path.isdir("/sys/firmware/efi") else "bios"
    return {
        "dsu_host": {
            "virtual": "container" if container else grains.get("virtual", "physical"),
            "virtual_subtype": container or grains.get("virtual_subtype", ""),
            "container": container,
            "init": _init_system(),
            "boot_mode": boot_mode,
            "cpu_vendor": _cpu_vendor(),
        }
    }


def dsu_entropy(grains):
    """Each entropy mode's plan ({daemon, reason}) on this kernel, by the rule in _utils."""
    if grains.get("kernel") != "Linux":
        return {}
    rule = __utils__["entropy_rule.choose"]
    release = grains.get("kernelrelease", "")
    return {"dsu_entropy": {mode: rule(mode, release) for mode in __utils__["entropy_rule.modes"]()}}

