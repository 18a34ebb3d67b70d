"""Checks on the machine that runs the lab, each failing with a one-line fix."""

import os
import shutil
import subprocess

from dsu.errors import DsuError

TOOLS = {
    "debootstrap": "apt-get install debootstrap",
    "systemd-nspawn": "apt-get install systemd-container",
    "ssh": "apt-get install openssh-client",
    "ssh-keygen": "apt-get install openssh-client",
    "ip": "apt-get install iproute2",
}


def require_root() -> None:
    if os.geteuid() != 0:
        raise DsuError("the lab needs root (systemd-nspawn, bridges)", "run dsu lab as root")


def require_tools(*names: str) -> None:
    for name in names or tuple(TOOLS):
        if shutil.which(name) is None:
            raise DsuError(f"{name} is not installed", TOOLS.get(name, f"install {name}"))


def run(argv: list[str], what: str, fix: str | None = None, **kwargs: object) -> str:
    """Run a command; on failure raise DsuError quoting the last line it printed."""
    proc = subprocess.run(argv, capture_output=True, text=True, **kwargs)  # noqa: PLW1510
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise DsuError(f"{what} failed (exit {proc.returncode}): {last[0]}", fix)
    return proc.stdout
