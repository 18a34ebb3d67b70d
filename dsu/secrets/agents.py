"""The gpg-agents dsu starts, stopped when it is done with them.

GnuPG starts an agent the first time a home is used (gpg, python-gnupg and sops alike) and leaves
it running, with the secret keys it has unlocked. A dsu command uses several homes: preflight's
checks decrypt in Salt's ``gpg_keydir`` and the sops renderer's home, the pillar compile of the
salt-ssh it runs does the same in salt-ssh's process (Salt's gpg renderer, this repo's sops
renderer), ``dsu secrets`` uses GNUPGHOME or GnuPG's default home. Each left one agent behind.

``stopped_after(*homes)`` stops, when its block ends, the agent of every home in *homes* that had
none when the block began, whatever happened in between. An agent that was already running is
left as it was found: the operator's own (in ~/.gnupg, or a GNUPGHOME of theirs), or one another
program started. Several dsu processes may use one home at the same time (a preflight beside a
deploy, both in etc/salt/gpgkeys): each holds a shared lock on a file in the home while it uses
it, and only the last one out stops the agent, so no process loses its agent in mid-decryption.
"""

import fcntl
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from dsu.errors import DsuError
from dsu.saltconfig import setup

# In the GnuPG home: the lock its dsu users share, and what the first of them found (b"1": an
# agent was running before any dsu process used the home, so none of them stops it).
LOCK_NAME = ".dsu-agent.lock"


def _gpgconf(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["gpgconf", "--homedir", str(home), *args], capture_output=True,
                          text=True, check=False)


def agent_running(home: Path) -> bool:
    """Whether an agent serves *home* now: its socket accepts a connection. Asking starts none,
    unlike gpg-connect-agent, and a socket file left by a killed agent refuses."""
    path = _gpgconf(home, "--list-dirs", "agent-socket").stdout.strip()
    if not path:
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def stop_agent(home: Path) -> None:
    """Stop *home*'s agent (gpgconf starts none to do so)."""
    _gpgconf(home, "--kill", "gpg-agent")


class _Use:
    """This process's use of one GnuPG home: what was running when it began, and its share of
    the home's lock (none when the home cannot hold a lock file: then this process alone decides,
    by what it found)."""

    def __init__(self, home: Path) -> None:
        self.home, self.fd = home, None
        self.existed = home.is_dir()
        self.found_running = self.existed and agent_running(home)
        if not self.existed:
            return  # python-gnupg creates a missing home: whatever runs there at the end is ours
        try:
            fd = os.open(home / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # Another dsu process uses the home: what the first one found holds for all.
            fcntl.flock(fd, fcntl.LOCK_SH)
            self.found_running = os.pread(fd, 1, 0) == b"1"
        else:
            os.ftruncate(fd, 0)
            os.pwrite(fd, b"1" if self.found_running else b"0", 0)
            fcntl.flock(fd, fcntl.LOCK_SH)
        self.fd = fd

    def end(self) -> None:
        """Stop the agent if no dsu process found it running and this is the last one out."""
        if self.fd is None:
            if not self.found_running and self.home.is_dir():
                stop_agent(self.home)
            return
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # still in use by another dsu process: the last one stops it
            if not self.found_running:
                stop_agent(self.home)
        finally:
            os.close(self.fd)


def _homes(homes: tuple[Path | str | None, ...]) -> list[Path]:
    """*homes* as distinct absolute paths, those not set left out. Symbolic links stay: GnuPG
    names an agent's socket directory after the home's path as it was given."""
    found: dict[Path, None] = {}
    for home in homes:
        if home:
            found[Path(os.path.abspath(os.path.expanduser(str(home))))] = None
    return list(found)


@contextmanager
def stopped_after(*homes: Path | str | None) -> Iterator[None]:
    """Within the block, GnuPG may start agents in *homes* (unset ones are skipped); at its end,
    each agent that was not running when it began is stopped (see the module)."""
    with ExitStack() as stack:
        for home in _homes(homes):
            stack.callback(_Use(home).end)
        yield


def default_home() -> Path:
    """GnuPG's default home, the operator's own: used when neither GNUPGHOME nor a --homedir
    names another."""
    return Path.home() / ".gnupg"


def command_homes(config_dir: Path | None = None) -> list[Path]:
    """Every GnuPG home a dsu command may use: Salt's key directories as the Salt config at
    *config_dir* (default etc/salt) sets them (gpg_keydir, the sops renderer's home), GNUPGHOME
    and GnuPG's default home. A config that cannot be read adds no key directory: the command
    reports that itself."""
    homes = [Path(home) for home in (os.environ.get("GNUPGHOME"),) if home]
    try:
        conf = setup(config_dir)
        homes += [conf.gpg_keydir, conf.sops_gnupghome]
    except DsuError:
        pass
    return [*homes, default_home()]
