"""Interrupted runs recover without a person, on fresh lab hosts.

(a) dpkg killed in the middle of an apt transaction, as a dropped session or the OOM killer leave
    it (dpkg's journal in /var/lib/dpkg/updates, a package half-way, apt refusing with "dpkg was
    interrupted"): core.repositories + core.bootstrap repair it first, converge, and the run
    after changes nothing.
(b) the operator's salt-ssh killed in the middle of a highstate: the run on the host goes on
    unattended; dsu's summary of the killed run names the reason, the next run waits for the
    earlier one (saying so) and converges, and the one after changes nothing.
"""

import os
import re
import signal
import subprocess
import threading

import pytest

from dsu.hostbusy import earlier_runs
from dsu.lab import hosts as lab
from dsu.lab.roster import roster_path
from dsu.runs import apply_states, summarize_states
from dsu.saltssh import salt_ssh
from tests.integration.conftest import converge, on_host, wait_for

REPAIR = "core-repositories-interrupted-dpkg-repaired"
# Many preinst scripts call dpkg-maintscript-helper (git's and perl's do on every install). A
# stand-in for it in /usr/local/sbin, first in the PATH dpkg gets from this apt-get (DPkg::Path),
# holds dpkg inside the script, the package half-installed and the journal written, and says
# whom to kill.
STAND_IN = "/usr/local/sbin/dpkg-maintscript-helper"
HELD = "/run/dsu-test-dpkg-held"
STAND_IN_SCRIPT = f"""#!/bin/sh
# Test stand-in: stops dpkg inside a maintainer script until the test kills it. The script's
# parent is dpkg itself.
echo "$(cut -d' ' -f4 /proc/$PPID/stat) $PPID $$ $DPKG_MAINTSCRIPT_PACKAGE $DPKG_MAINTSCRIPT_NAME" \\
  > {HELD}.new && mv {HELD}.new {HELD}
exec sleep 900
"""


def _run_on_host(host, command):
    """(exit status, stdout + stderr) of a shell command on the host, whatever the status."""
    proc = subprocess.run(lab.ssh_argv(host, command), capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def _kill_dpkg_mid_transaction(host, roster):
    """Start `apt-get install git` and SIGKILL dpkg inside a package's preinst, as it would die
    with its session. Returns (package, script) dpkg was in."""
    on_host(host, f"cat > {STAND_IN} <<'EOF'\n{STAND_IN_SCRIPT}EOF\nchmod 755 {STAND_IN}")
    on_host(host, "apt-get -q update >/dev/null")
    on_host(host, "DEBIAN_FRONTEND=noninteractive nohup apt-get install -y --no-install-recommends "
                  f"-o DPkg::Path={os.path.dirname(STAND_IN)}:/usr/sbin:/usr/bin:/sbin:/bin git "
                  ">/tmp/apt-install.log 2>&1 </dev/null &")
    def held():
        status, said = _run_on_host(host, f"cat {HELD}")
        return said.split() if status == 0 else None

    dpkg_pid, script_pid, stand_in_pid, package, script = wait_for(
        "dpkg to reach a maintainer script", held,
        lambda: on_host(host, "tail -5 /tmp/apt-install.log"), timeout=300)
    on_host(host, f"kill -KILL {dpkg_pid} && kill -KILL {script_pid} {stand_in_pid}")
    # apt sees its dpkg die and gives dpkg's locks back.
    wait_for("apt to let go of dpkg's lock", lambda: not earlier_runs([host.name], roster=roster),
             lambda: on_host(host, "tail -5 /tmp/apt-install.log"), timeout=120)
    on_host(host, f"rm {STAND_IN} {HELD}")
    return package, script


@pytest.mark.parametrize("release", ["bookworm", "trixie"])
def test_dpkg_killed_mid_unpack_is_repaired_first_then_converges(fresh_host, release):
    host = fresh_host(release)
    roster = roster_path(lab.lab_dir())
    package, script = _kill_dpkg_mid_transaction(host, roster)
    log = on_host(host, "cat /tmp/apt-install.log")
    assert "E: Sub-process /usr/bin/dpkg" in log, log  # "exited unexpectedly"
    # The state the lab hosts were found in: dpkg's journal left behind, apt refusing.
    assert re.search(r"^\d+$", on_host(host, "ls /var/lib/dpkg/updates"), re.M)
    status, said = _run_on_host(host, "apt-get check")
    assert status != 0 and "dpkg was interrupted" in said, said
    status, said = _run_on_host(host, f"dpkg-query -W -f='${{db:Status-Abbrev}}' {package}")
    assert said.strip() != "ii", f"{package} ({script}) survived the kill: {said}"

    sls = "core.repositories,core.bootstrap"
    # test=True is honest: the repair would run, and nothing is changed by saying so.
    check = salt_ssh([host.name], "state.apply", sls, "test=True", roster=roster).returns[host.name]
    (repair,) = (s for s in check.values() if s["__id__"] == REPAIR)
    assert repair["result"] is None, repair
    assert re.search(r"^\d+$", on_host(host, "ls /var/lib/dpkg/updates"), re.M)

    first = salt_ssh([host.name], "state.apply", sls, roster=roster).returns[host.name]
    summary = summarize_states(first)
    assert summary.success, (summary.errors, [(p.id, p.comment) for p in summary.failed_states])
    (repair,) = (s for s in first.values() if s["__id__"] == REPAIR)
    assert repair["changes"] and repair["__run_num__"] == 0, repair
    packages = [s for key, s in first.items() if key.startswith("pkg_|-")]
    assert packages and all(s["__run_num__"] > 0 and s["result"] for s in packages), packages

    assert on_host(host, "ls /var/lib/dpkg/updates; dpkg --audit").strip() == ""
    installed = on_host(host, f"dpkg-query -W -f='${{Package}} ${{db:Status-Abbrev}}\\n' {package} git")
    assert {line.split()[1] for line in installed.splitlines()} == {"ii"}, installed
    on_host(host, "apt-get check")
    # The run after it, test=True and real, changes nothing: the repair's onlyif is false again.
    converge(host, sls)


def _descendants(pid):
    """*pid* and every process below it (this machine's /proc)."""
    parents = {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/stat") as handle:
                parents[int(name)] = int(handle.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
    found, grown = {pid}, True
    while grown:
        below = {child for child, parent in parents.items() if parent in found}
        grown = not below <= found
        found |= below
    return found


def _operator_salt_ssh(host):
    """The pid of this process's salt-ssh running state.apply on *host*, if it runs."""
    for pid in sorted(_descendants(os.getpid()) - {os.getpid()}):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                # Salt sets its process titles: the arguments may come as one string.
                words = handle.read().decode(errors="replace").replace("\0", " ").split()
        except OSError:
            continue
        if any(w.endswith("/salt-ssh") for w in words[:2]) and "state.apply" in words and \
                host.name in words:
            return pid
    return None


def test_killed_operator_run_is_reported_waited_for_and_converges(fresh_host, capsys):
    host = fresh_host()
    roster = roster_path(lab.lab_dir())
    killed = {}
    operator = threading.Thread(target=lambda: killed.update(run=apply_states([host.name],
                                                                              roster=roster)))
    operator.start()
    try:
        wait_for("the highstate to start on the host",
                 lambda: any(not r.holds for r in earlier_runs([host.name], roster=roster)
                             .get(host.name, [])),
                 lambda: "no salt-call state run on the host", timeout=300)
        # The operator's side dies at once, as with a dropped session: salt-ssh, its per-host
        # process and its ssh client.
        salt_ssh_pid = _operator_salt_ssh(host)
        assert salt_ssh_pid, "the operator's salt-ssh is not running"
        for pid in _descendants(salt_ssh_pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    finally:
        operator.join(timeout=600)
    summary = killed["run"].summaries[host.name]
    assert not summary.success
    assert summary.errors[0].startswith(f"salt-ssh was killed by SIGKILL before {host.name} "
                                        "answered"), summary.errors

    # What the lab hosts showed: the host's half goes on without its operator.
    going = [r for r in earlier_runs([host.name], roster=roster).get(host.name, []) if not r.holds]
    assert going and going[0].command == "salt-call state.pkg", going
    capsys.readouterr()

    second = apply_states([host.name], roster=roster)
    said = capsys.readouterr().err
    assert f"host {host.name}: an earlier run (pid {going[0].pid}, started " in said, said
    assert "is still going; waiting" in said and \
        f"host {host.name}: the earlier run is over after " in said, said
    summary = second.summaries[host.name]
    assert summary.success, (summary.errors, [(p.id, p.comment) for p in summary.failed_states])

    for args in (("test=True",), ()):
        again = apply_states([host.name], *args, roster=roster).summaries[host.name]
        assert again.success and again.changed == 0, \
            (args, [(p.id, p.comment) for p in again.changed_states])
    assert not earlier_runs([host.name], roster=roster)
