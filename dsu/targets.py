"""Deploy targets as a salt-ssh roster names them: read, selected by name or glob, reached with
plain ssh the way salt-ssh reaches them, and updated in place when a bootstrap moves a host to
its deploy user and port.

A roster entry that declares first contact carries ``dsu_bootstrap``: ``true`` (the deploy user
``deploy`` on port 2222) or ``{user: NAME, port: N}``. It is reached as given (root on 22, as a
new VPS is delivered) until ``dsu bootstrap`` has moved it, and then the entry is rewritten to
``user``/``port``/``sudo: true`` without the key. salt-ssh ignores roster keys it does not know.
"""

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dsu.errors import DsuError, one_line
from dsu.paths import locked, replace_file
from dsu.yamlread import load_file

BOOTSTRAP_KEY = "dsu_bootstrap"
DEFAULT_DEPLOY_USER = "deploy"
DEFAULT_DEPLOY_PORT = 2222
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class Access:
    """Where a bootstrap moves a host: its deploy user and SSH port."""

    user: str = DEFAULT_DEPLOY_USER
    port: int = DEFAULT_DEPLOY_PORT


@dataclass(frozen=True)
class Target:
    name: str
    host: str
    port: int = 22
    user: str = "root"
    sudo: bool = False
    priv: str | None = None
    ssh_options: tuple[str, ...] = ()
    bootstrap: Access | None = None  # set while the roster declares first contact
    entry: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def option(self, name: str) -> str | None:
        """The value of one of the entry's ssh_options (case-insensitive name)."""
        for option in self.ssh_options:
            key, _, value = option.partition("=")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None

    def known_hosts(self) -> Path | None:
        value = self.option("UserKnownHostsFile")
        return Path(value) if value else None

    def ssh_argv(self, *command: str, user: str | None = None, port: int | None = None,
                 connect_timeout: int = 10, batch: bool = True) -> list[str]:
        """Plain ssh to the target as salt-ssh reaches it (same key, options, known_hosts), or
        as *user* on *port*."""
        argv = ["ssh", "-p", str(port or self.port), "-o", f"ConnectTimeout={connect_timeout}",
                "-o", "LogLevel=ERROR"]
        if batch:
            argv += ["-o", "BatchMode=yes"]
        if self.priv:
            argv += ["-i", self.priv, "-o", "IdentitiesOnly=yes"]
        for option in self.ssh_options:
            argv += ["-o", option]
        return [*argv, f"{user or self.user}@{self.host}", *command]


def _access(value: object, where: str) -> Access | None:
    if value is None or value is False:
        return None
    if value is True:
        return Access()
    if not isinstance(value, dict) or set(value) - {"user", "port"}:
        raise DsuError(f"{where}: {BOOTSTRAP_KEY} must be true or a mapping with user and port",
                       f"e.g. {BOOTSTRAP_KEY}: {{user: {DEFAULT_DEPLOY_USER}, port: "
                       f"{DEFAULT_DEPLOY_PORT}}}")
    user = value.get("user", DEFAULT_DEPLOY_USER)
    port = value.get("port", DEFAULT_DEPLOY_PORT)
    if not isinstance(user, str) or not _USER.match(user) or user == "root":
        raise DsuError(f"{where}: {BOOTSTRAP_KEY}.user must be a login name other than root",
                       "lower-case letters, digits, _ and -, at most 32 characters")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535 \
            or port == 22:
        raise DsuError(f"{where}: {BOOTSTRAP_KEY}.port must be a TCP port other than 22",
                       f"e.g. {DEFAULT_DEPLOY_PORT}")
    return Access(user, port)


def _target(name: str, entry: object, path: Path) -> Target:
    where = f"{path}: {name}"
    if not isinstance(entry, dict) or not isinstance(entry.get("host"), str):
        raise DsuError(f"{where}: a roster entry needs at least host", "see etc/salt/roster")
    port = entry.get("port", 22)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise DsuError(f"{where}: port must be a TCP port number")
    options = entry.get("ssh_options") or []
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise DsuError(f"{where}: ssh_options must be a list of Option=value strings")
    return Target(name=name, host=entry["host"], port=port, user=str(entry.get("user", "root")),
                  sudo=bool(entry.get("sudo", False)),
                  priv=str(entry["priv"]) if entry.get("priv") else None,
                  ssh_options=tuple(options), bootstrap=_access(entry.get(BOOTSTRAP_KEY), where),
                  entry=entry)


def read_roster(path: Path) -> dict[str, Target]:
    try:
        document = load_file(path)
    except FileNotFoundError:
        raise DsuError(f"roster {path} does not exist", "pass --roster FILE") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DsuError(f"roster {path} cannot be read: {one_line(exc)}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise DsuError(f"roster {path} is not a mapping of target names to entries")
    return {str(name): _target(str(name), entry, path) for name, entry in document.items()}


def select(roster: dict[str, Target], patterns: Iterable[str], path: Path) -> list[Target]:
    """The targets named by *patterns* (names or shell globs), in roster order, each once."""
    chosen: list[str] = []
    for pattern in patterns:
        found = [name for name in roster if fnmatch.fnmatchcase(name, pattern)]
        if not found:
            raise DsuError(f"no target {pattern!r} in roster {path}",
                           f"targets there: {', '.join(roster) or '(none)'}")
        chosen += [name for name in found if name not in chosen]
    return [roster[name] for name in chosen]


def bootstrapped(path: Path, name: str, access: Access) -> None:
    """Rewrite *name*'s entry after a bootstrap: the deploy user with sudo on the new port, no
    first-contact key. Other entries, and the comments at the top, are kept."""
    with locked(path.with_name(f".{path.name}.lock")):
        text = path.read_text()
        header = "".join(line for line in text.splitlines(keepends=True)
                         if line.startswith("#"))
        document = yaml.safe_load(text) or {}
        entry = dict(document[name])
        entry.pop(BOOTSTRAP_KEY, None)
        entry.update({"user": access.user, "port": access.port, "sudo": True})
        document[name] = entry
        replace_file(path, header + yaml.safe_dump(document, sort_keys=True),
                     path.stat().st_mode & 0o777)


def known_host_lines(path: Path, host: str) -> list[str]:
    """The key lines known for *host* on port 22 (``host keytype key``), from a known_hosts."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    return [line for line in lines if line.split(" ", 1)[0].split(",").count(host)]


def add_known_port(path: Path, host: str, port: int) -> None:
    """Record the keys already known for *host* as ``[host]:port`` too: the same sshd answers on
    the new port, so its key is known, not trusted on first use."""
    with locked(path.with_name(f".{path.name}.lock")):
        lines = path.read_text().splitlines() if path.exists() else []
        marker = f"[{host}]:{port}"
        keys = [line.split(" ", 1)[1] for line in known_host_lines(path, host)]
        have = {line.split(" ", 1)[1] for line in lines if line.split(" ", 1)[0] == marker}
        new = [f"{marker} {key}" for key in keys if key not in have]
        if new:
            replace_file(path, "\n".join(lines + new) + "\n", 0o644)
