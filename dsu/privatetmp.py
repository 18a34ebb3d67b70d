"""A private temporary directory for a dsu command's children (see the comment below)."""

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dsu.paths import state_dir

# salt-ssh packs each host's state bundle, the decrypted pillar in its pillar.json, in the temp
# directory (tempfile.mkdtemp, salt.utils.files.mkstemp: /tmp/tmp*, /tmp/__salt.tmp.*) and removes
# it when the host has answered: a salt-ssh killed in between leaves it there. So every dsu
# command runs its children with TMPDIR in a directory of its own, removed when it ends.

PRIVATE_TMP_PREFIX = "run-"


def _process_start(pid: int) -> str | None:
    """When process *pid* started (clock ticks after boot), None if there is no such process:
    a pid together with its start time names one process even when pids are reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the command name may hold ")"


def _remove_tree(path: Path, tries: int = 5) -> bool:
    """Remove *path* with everything in it; True when it is gone. A killed salt-ssh's per-host
    processes may still be writing into it: try again a few times."""
    for attempt in range(tries):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            return True
        time.sleep(0.1 * (attempt + 1))
    return False


def remove_stale_tmpdirs(base: Path) -> list[Path]:
    """Remove the private temp directories under *base* of dsu processes that are gone (killed,
    so their own cleanup never ran); return those removed."""
    removed = []
    for path in base.glob(f"{PRIVATE_TMP_PREFIX}*-*-*"):
        _, pid, started, _ = path.name.split("-", 3)
        if pid.isdigit() and _process_start(int(pid)) != started and _remove_tree(path):
            removed.append(path)
    return removed


@contextmanager
def private_tmpdir(base: Path | None = None) -> Iterator[Path]:
    """A new directory of mode 0700 under *base* (default: ``<dsu state dir>/tmp``), TMPDIR for
    this process and its children within the block, then removed with everything in it, however
    the block ends (a child SIGKILLed, an exception). Directories left by dsu processes that were
    killed themselves are removed when the next one begins."""
    base = base or state_dir() / "tmp"
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    remove_stale_tmpdirs(base)
    pid = os.getpid()
    path = Path(tempfile.mkdtemp(prefix=f"{PRIVATE_TMP_PREFIX}{pid}-{_process_start(pid)}-",
                                 dir=base))
    saved = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = str(path)
    tempfile.tempdir = None  # Python's own tempfile reads TMPDIR again
    try:
        yield path
    finally:
        if saved[0] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved[0]
        tempfile.tempdir = saved[1]
        _remove_tree(path)
