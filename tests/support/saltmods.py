"""Load this repo's custom Salt modules as plain Python modules for unit tests, with the loader's
dunders (__opts__, __pillar__, __utils__ …) given explicitly."""

import importlib.util

from tests.conftest import REPO


def load(kind, name, **dunders):
    """Import REPO/<kind>/<name>.py (kind: _modules, _states, _utils …) and set *dunders* on it."""
    spec = importlib.util.spec_from_file_location(f"dsu_test_{kind}_{name}", REPO / kind / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for key, value in dunders.items():
        setattr(module, f"__{key}__", value)
    return module


def utils(name):
    """The __utils__ entries of REPO/_utils/<name>.py, keyed like the loader keys them."""
    module = load("_utils", name)
    return {f"{name}.{attr}": getattr(module, attr) for attr in dir(module)
            if callable(getattr(module, attr)) and not attr.startswith("_")}
