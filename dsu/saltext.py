"""This checkout's Salt extension code: its loader directories for Salt, and its ``_utils`` for
``dsu`` without a Salt loader.

``loader_dirs`` is the ``salt.loader`` entry point (pyproject.toml): salt-ssh loads the wrappers
in ``_wrappers/`` from it, on the operator's side, while it renders a target's states.

The pure parts of ``_utils/`` (SOPS format, APT sources, health report) are plain Python so that
the Salt loader and ``dsu`` run the same code: ``dsu`` imports them by path, once per process.
"""

import importlib.util
import sys
import threading
from types import ModuleType

from dsu.paths import REPO_ROOT

# Worker threads (the idempotence benchmark boots hosts from several) may ask at once: one imports,
# the others wait for it rather than find a half-executed module in sys.modules.
_IMPORTING = threading.RLock()


def loader_dirs() -> dict[str, list[str]]:
    """Salt loader directories this project adds, by loader kind."""
    return {"wrapper": [str(REPO_ROOT / "_wrappers")]}


def utils_module(name: str) -> ModuleType:
    """``_utils/<name>.py`` of this checkout as a module (imported once)."""
    qualified = f"dsu_utils_{name}"
    with _IMPORTING:
        return sys.modules.get(qualified) or _load(name, qualified)


def _load(name: str, qualified: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(qualified, REPO_ROOT / "_utils" / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"no _utils/{name}.py in {REPO_ROOT}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[qualified]
        raise
    return module
