"""Failure paths of the lab on the real machine: a bad mirror fails the image build clearly, and
hosts started by a process die with it even when it is killed outright."""

import os
import signal
import subprocess
import sys
import time

from dsu.paths import REPO_ROOT


def test_image_build_failure_is_one_clear_line(isolated_lab, tmp_path):
    env = {**isolated_lab.env, "DSU_CACHE_DIR": str(tmp_path / "cache"),
           "DSU_MIRROR": "http://127.0.0.1:9/debian"}
    proc = subprocess.run([sys.executable, "-m", "dsu", "lab", "image"], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    error = [line for line in proc.stderr.splitlines() if line.startswith("dsu: error:")]
    assert len(error) == 1 and "image build for bookworm failed" in error[0]
    assert "127.0.0.1:9" in error[0] and "full log in" in error[0]


def _nspawn_for(name):
    out = subprocess.run(["pgrep", "-af", "systemd-nspawn"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if f"--machine={name}" in line]


def test_hosts_die_with_a_killed_owner(isolated_lab):
    owner = subprocess.Popen(
        [sys.executable, "-c",
         "import time; from dsu.lab import hosts; hosts.up('orphan', tie_to_parent=True); "
         "print('up', flush=True); time.sleep(600)"],
        env={**os.environ, **isolated_lab.env}, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    assert owner.stdout.readline().strip() == "up"
    assert _nspawn_for("orphan")
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    deadline = time.monotonic() + 30
    while _nspawn_for("orphan") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _nspawn_for("orphan") == []
    # The registry entry it left is recognised as stale and cleared.
    assert "stopped" in isolated_lab("lab", "status").stdout
    isolated_lab("lab", "down", "--all")
    assert isolated_lab("lab", "status").stdout.strip() == "no lab hosts"
