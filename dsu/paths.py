"""Where dsu keeps things: the checkout, the per-machine cache and the lab's runtime state."""

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """Per-machine cache (lab images, apt packages); never inside the checkout."""
    env = os.environ.get("DSU_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "dsu"


def state_dir() -> Path:
    """Runtime state of running lab hosts (registry, keys, roster)."""
    env = os.environ.get("DSU_STATE_DIR")
    return Path(env) if env else Path.home() / ".local" / "state" / "dsu"


def artifacts_dir() -> Path:
    env = os.environ.get("DSU_ARTIFACTS_DIR")
    return Path(env) if env else REPO_ROOT / "ci-artifacts"


def replace_file(target: Path, text: str, mode: int = 0o600) -> None:
    """Write *text* to *target* atomically: a temporary file beside it with its final *mode*
    from the start, flushed to disk, renamed over it. Readers see the old file or the new one,
    never a truncated one."""
    temporary = target.with_name(f".{target.name}.dsu-tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # O_CREAT's mode is subject to the umask; a stale file keeps its own
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, target)


@contextmanager
def locked(path: Path) -> Iterator[int]:
    """Hold an exclusive lock on *path* (created if missing) across processes; yields its fd."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield handle.fileno()
