"""Shared test setup: repository paths and clean teardown on SIGTERM as well as Ctrl-C."""

import signal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "docs" / "schemas"

# Key and real-sops fixtures for the SOPS tests of every layer.
pytest_plugins = ["tests.sopskeys"]


def _terminate(signum, frame):
    # Turn SIGTERM (CI cancelling, a timeout) into KeyboardInterrupt so fixtures tear down hosts.
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config):
    signal.signal(signal.SIGTERM, _terminate)


@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def schema():
    import json

    def load(name):
        return json.loads((SCHEMAS / name).read_text())

    return load
