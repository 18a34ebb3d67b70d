"""Shared test setup: repository paths and clean teardown on SIGTERM as well as Ctrl-C."""

import contextlib
import os
import signal
import sys
import tempfile
from pathlib import Path

import pytest

from dsu.privatetmp import private_tmpdir

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "docs" / "schemas"

# Key and real-sops fixtures for the SOPS tests of every layer.
pytest_plugins = ["tests.support.sopskeys"]


_XDIST_CONTROLLER = False  # set in pytest_configure


def _children() -> list[int]:
    pids = []
    for task in Path("/proc/self/task").iterdir():
        pids += [int(p) for p in (task / "children").read_text().split()]
    return pids


def _terminate(signum, frame):
    """SIGTERM (CI cancelling, a timeout) becomes KeyboardInterrupt, so fixtures tear hosts down.
    An xdist controller passes it on to its workers instead (they hold the hosts): each tears
    down, and their interrupt ends the run with pytest's "interrupted" status (bootstrap.sh sets
    --max-worker-restart 0, so no fresh worker takes over)."""
    workers = _children() if _XDIST_CONTROLLER else []
    if not workers:
        raise KeyboardInterrupt(f"signal {signum}")
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


# The temp files of every process the tests start in a private directory, as every dsu command's
# children have (dsu/privatetmp.py): tests run salt-ssh and kill it on purpose, and a killed
# salt-ssh leaves its state bundle, the compiled pillar inside, in the temp directory.
_PRIVATE_TMP = contextlib.ExitStack()


def pytest_configure(config):
    global _XDIST_CONTROLLER
    _XDIST_CONTROLLER = bool(getattr(config.option, "numprocesses", None)) and \
        os.environ.get("PYTEST_XDIST_WORKER") is None
    signal.signal(signal.SIGTERM, _terminate)
    # Under the usual temp directory, and this process's own temp files stay there: GnuPG puts
    # its agent's sockets in a home under pytest's basetemp, and a socket path has 108 bytes.
    usual = tempfile.gettempdir()
    _PRIVATE_TMP.enter_context(private_tmpdir(Path(usual)))
    tempfile.tempdir = usual


def pytest_unconfigure(config):
    _PRIVATE_TMP.close()
    # Salt buffers records in a deferred stderr handler and writes them at exit, after pytest has
    # closed the captured stream ("--- Logging error ---" noise): hand them over before that.
    impl = sys.modules.get("salt._logging.impl")
    if impl is not None:
        impl.shutdown_temp_handler()


# Converge timings and benchmark reports: attached to test reports by the integration layer
# (user_properties travel from xdist workers), printed once at the end here.
_SECTIONS: dict[str, list] = {"dsu_report": [], "dsu_timing": []}


def pytest_runtest_logreport(report):
    for name, value in report.user_properties:
        if name in _SECTIONS:
            _SECTIONS[name].append(value)


def pytest_terminal_summary(terminalreporter):
    for report in _SECTIONS["dsu_report"]:
        terminalreporter.section("report")
        for line in report.splitlines():
            terminalreporter.line(line)
    if not _SECTIONS["dsu_timing"]:
        return
    terminalreporter.section("converge timings (salt-ssh wall time, seconds)")
    terminalreporter.line(f"{'what':<22}{'release':<10}{'variant':<8}{'first':>8}{'test':>8}"
                          f"{'again':>8}")
    for what, release, variant, first, check, again in sorted(_SECTIONS["dsu_timing"]):
        terminalreporter.line(f"{what:<22}{release:<10}{variant:<8}{first:>8.1f}{check:>8.1f}"
                              f"{again:>8.1f}")


@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def schema():
    import json

    def load(name):
        return json.loads((SCHEMAS / name).read_text())

    return load
