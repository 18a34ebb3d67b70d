"""Where dsu keeps things: the checkout, the per-machine cache and the lab's runtime state."""

import os
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
