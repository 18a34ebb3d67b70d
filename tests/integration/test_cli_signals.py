"""SIGTERM to a long dsu command, in a lab of its own: the command stops within seconds with one
line and exit 143, and leaves nothing it made behind: no nspawn machine, registry entry, salt-ssh
or ssh process, package proxy, bridge, temporary file or empty evidence directory."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dsu.paths import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "salt"
EXIT_WITHIN_SECONDS = 30


def _pgrep(pattern):
    return subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True).stdout.splitlines()


def _leftovers(env, machines, tmpdir, out):
    """What of the lab in *env* still exists: machines named *machines*…, its registry, proxy,
    bridge and veths, processes reaching it, files in *tmpdir* and *out*."""
    state = Path(env["DSU_STATE_DIR"]) / "lab"
    net = env["DSU_LAB_SUBNET"].rsplit(".", 1)[0] + "."  # "10.248.37."
    found = [f"registry: {p.name}" for p in (state / "hosts").glob("*")]
    found += [f"host run dir: {p.name}" for p in (state / "run").glob("*")]
    found += [f"proxy pid file: {p}" for p in state.glob("proxy.pid")]
    found += [f"nspawn: {line}" for line in _pgrep("systemd-nspawn") if f"--machine={machines}" in line]
    # The proxy (--address), ssh and scp: every process that names an address of the lab.
    found += [f"process: {line}" for line in _pgrep(re.escape(net))]
    found += [f"salt-ssh: {line}" for line in _pgrep("salt-ssh") if str(state) in line]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.splitlines()
    found += [f"link: {line[:80]}" for line in links
              if f" {env['DSU_LAB_BRIDGE']}:" in line or f" vb-{machines}" in line]
    found += [f"mount: {line}" for line in Path("/proc/mounts").read_text().splitlines()
              if env["DSU_STATE_DIR"] in line]
    found += [f"temporary: {p}" for p in tmpdir.rglob("*")]
    found += [f"in --out: {p}" for p in out.rglob("*")]
    return found


def _nothing_left(env, machines, tmpdir, out, settle=10):
    """Leftovers, polled for a few seconds: ssh sessions hang up and exit after salt-ssh is
    killed, not at the same instant."""
    deadline = time.monotonic() + settle
    while (found := _leftovers(env, machines, tmpdir, out)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return found


class Command:
    """`dsu ARGS...` in the background with the lab's environment; its stderr collected line by
    line, so a test can wait for a step to start."""

    def __init__(self, env, *args):
        self.lines, self.changed = [], threading.Condition()
        self.proc = subprocess.Popen([sys.executable, "-m", "dsu", *args], env=env, cwd=REPO_ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def wait_for(self, text, timeout=300):
        deadline = time.monotonic() + timeout
        with self.changed:
            while not any(text in line for line in self.lines):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.proc.kill()
                    pytest.fail(f"dsu never said {text!r}:\n" + "\n".join(self.lines))
                self.changed.wait(1)

    def terminate(self):
        """SIGTERM; returns (exit code, seconds it took to exit)."""
        sent = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=EXIT_WITHIN_SECONDS * 3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail("dsu did not exit after SIGTERM:\n" + "\n".join(self.lines))
        self.reader.join(10)
        return code, time.monotonic() - sent


@pytest.fixture
def lab_env(isolated_lab, tmp_path):
    """The isolated lab's environment, with a TMPDIR of its own (checked for leftovers)."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    return {**os.environ, **isolated_lab.env, "TMPDIR": str(tmpdir)}, tmpdir


def _salt_ssh_running(env):
    state = str(Path(env["DSU_STATE_DIR"]) / "lab")
    return any(state in line for line in _pgrep("salt-ssh"))


@pytest.mark.parametrize("moment", ["booting", "in salt-ssh"])
def test_sigterm_of_idempotence_leaves_nothing(lab_env, tmp_path, moment):
    env, tmpdir = lab_env
    out = tmp_path / "out"
    # Fixture and cheap real roles, two at once: the workers' salt-ssh runs must be ended from
    # the main thread. --extra-root makes the run write a Salt config of its own (.salt-config)
    # that must go too.
    roles = ["fixture_unguarded", "identity"]
    command = Command(env, "idempotence", "--roles", ",".join(roles), "--jobs", "2",
                      "--extra-root", str(FIXTURES), "--out", str(out))
    machines = f"i{command.proc.pid}-"
    if moment == "booting":
        command.wait_for("booting bookworm at")
    else:
        for role in roles:
            command.wait_for(f"core.{role}: apply")
        deadline = time.monotonic() + 60
        while not _salt_ssh_running(env) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _salt_ssh_running(env), "\n".join(command.lines)
        time.sleep(2)  # well into the runs: transferring, or applying on the hosts
    assert any(machines in line for line in _pgrep("systemd-nspawn")), "the hosts are not up"

    code, took = command.terminate()

    assert code == 128 + signal.SIGTERM, "\n".join(command.lines)
    assert took < EXIT_WITHIN_SECONDS, f"took {took:.1f}s:\n" + "\n".join(command.lines)
    assert command.lines[-1] == "dsu: interrupted by SIGTERM", "\n".join(command.lines)
    assert not any("Traceback" in line for line in command.lines), "\n".join(command.lines)
    assert _nothing_left(env, machines, tmpdir, out) == []


def test_sigterm_of_deploy_stops_the_hosts_it_booted(lab_env, tmp_path):
    env, tmpdir = lab_env
    out = tmp_path / "out"
    command = Command(env, "deploy", "--lab", "sigdeploy", "--out", str(out))
    command.wait_for("highstate: state.apply")
    code, took = command.terminate()

    assert code == 128 + signal.SIGTERM and took < EXIT_WITHIN_SECONDS, "\n".join(command.lines)
    assert command.lines[-1] == "dsu: interrupted by SIGTERM", "\n".join(command.lines)
    assert not any("Traceback" in line for line in command.lines), "\n".join(command.lines)
    assert _nothing_left(env, "sigdeploy", tmpdir, out) == []
