"""Shared test setup: repository paths and clean teardown on SIGTERM as well as Ctrl-C."""

import os
import signal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "docs" / "schemas"


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


def pytest_unconfigure(config):
    # Salt buffers log records in deferred handlers (one per setup call) and flushes them at exit,
    # after pytest's summary and sometimes into a stream pytest already closed. Those records are
    # daemon shutdown chatter: send them to /dev/null so the summary stays the last line printed.
    import logging

    from salt._logging.handlers import DeferredStreamHandler

    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives until exit
    for ref in list(logging._handlerList):
        handler = ref()
        if isinstance(handler, DeferredStreamHandler):
            handler.setStream(devnull)
