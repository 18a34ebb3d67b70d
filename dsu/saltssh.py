"""salt-ssh from this checkout: the Salt scripts of the project's venv, the thin built once, and
one call against N targets read back as JSON keyed by host."""

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsu.errors import DsuError
from dsu.paths import REPO_ROOT, locked


def salt_bin(name: str) -> str:
    """The Salt script next to this interpreter (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise DsuError(f"{name} is not installed", "run ./bootstrap.sh setup")
    return found


# salt-ssh's thin tarball, built on first use into the cachedir of etc/salt/master's root_dir.
THIN_VERSION = REPO_ROOT / ".salt-root/var/cache/salt/master/thin/version"


@contextmanager
def _thin_built_once() -> Iterator[None]:
    """Salt builds the thin without a lock: concurrent first runs rewrite its version file,
    salt-call and tarball under each other. So until the thin exists, salt-ssh runs one at a
    time (parallel benchmarks and test workers on a fresh checkout); after that, freely."""
    if THIN_VERSION.exists():
        yield
        return
    with locked(REPO_ROOT / ".salt-root" / "thin.lock") as fd:
        if THIN_VERSION.exists():
            fcntl.flock(fd, fcntl.LOCK_UN)
        yield


@dataclass
class SaltRun:
    returncode: int
    returns: dict[str, Any]
    stderr: str


def salt_ssh(targets: list[str], fun: str, *args: str, roster: Path,
             timeout: float | None = None, config_dir: Path | None = None,
             log_level: str = "warning", wipe: bool = False) -> SaltRun:
    """Call *fun* on *targets* through salt-ssh; one JSON document back, keyed by host. *wipe*
    removes salt-ssh's working directory on the target afterwards, including the state bundle
    whose pillar.json holds the decrypted pillar."""
    config = [f"--config-dir={config_dir}"] if config_dir else []
    config += ["--wipe"] if wipe else []
    argv = [salt_bin("salt-ssh"), *config, f"--roster-file={roster}", "--out=json", "--static",
            "--no-color", f"--log-level={log_level}", "-L", ",".join(targets), fun, *args]
    # salt-ssh forks a process per host, and its main process waits for them even on SIGTERM.
    # In a session of its own all of it is killed at once on a timeout or an interruption (the
    # per-host ssh sessions hang up with it), instead of running on with nobody waiting for it.
    with _thin_built_once(), subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                                              stderr=subprocess.PIPE, text=True,
                                              start_new_session=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except BaseException:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # all of it had ended already
            proc.wait()
            raise
    try:
        returns = json.loads(stdout) if stdout.strip() else {}
    except json.JSONDecodeError as exc:
        raise DsuError(f"salt-ssh printed something that is not JSON: {stdout[:200]!r}",
                       "run the same salt-ssh command by hand to see its output") from exc
    return SaltRun(proc.returncode, returns, stderr)
