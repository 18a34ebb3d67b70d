import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dsu import hostbusy, runs
from dsu.hostbusy import earlier_runs, running_here
from dsu.runs import failure_reason, lost_reason, summarize_states
from dsu.saltssh import SaltRun


def _state(result, changes=None, run_num=0, comment=""):
    return {"result": result, "changes": changes or {}, "comment": comment,
            "__id__": f"id{run_num}", "__sls__": "core.x", "__run_num__": run_num}


def test_counts_ok_changed_failed_in_run_order():
    ret = {
        "pkg_|-id2_|-id2_|-installed": _state(False, run_num=2, comment="boom"),
        "file_|-id0_|-/a_|-managed": _state(True, {"diff": "x"}, run_num=0),
        "file_|-id1_|-/b_|-managed": _state(True, run_num=1),
    }
    summary = summarize_states(ret)
    assert (summary.ok, summary.changed, summary.failed) == (1, 1, 1)
    assert [p.id for p in summary.changed_states] == ["id0"]
    assert summary.failed_states[0].comment == "boom"
    assert not summary.success


def test_test_mode_none_counts_as_would_change():
    summary = summarize_states({"k": _state(None)})
    assert summary.changed == 1 and summary.success


def test_render_errors_list_is_a_failure():
    summary = summarize_states(["Rendering SLS 'base:core.x' failed: bad yaml"])
    assert not summary.success
    assert "Rendering SLS" in summary.errors[0]


def test_ssh_failure_dict_is_a_failure():
    summary = summarize_states({"retcode": 255, "stderr": "Permission denied", "stdout": ""})
    assert not summary.success and "Permission denied" in summary.errors[0]


# --- why a host has no state return ------------------------------------------------------------

def _salt_run(returncode=0, returns=None, stderr=""):
    return SaltRun(returncode, returns or {}, stderr)


def test_killed_salt_ssh_names_the_signal_and_what_comes_next():
    reason = lost_reason("h1", _salt_run(-signal.SIGKILL))
    assert reason.startswith("salt-ssh was killed by SIGKILL before h1 answered")
    assert "the next run waits for it" in reason


def test_timeout_names_the_limit():
    reason = lost_reason("h1", _salt_run(-signal.SIGKILL), stopped_after=300)
    assert reason.startswith("salt-ssh did not finish within 300s and was stopped before h1")


def test_ssh_complaint_is_quoted_from_salt_ssh_output():
    stderr = ("[WARNING ] something else\n"
              "ssh: connect to host 10.248.0.11 port 22: Connection refused\n"
              "[ERROR   ] more noise\n")
    assert lost_reason("h1", _salt_run(1, stderr=stderr)) == \
        "SSH to h1 failed: ssh: connect to host 10.248.0.11 port 22: Connection refused"


def test_exit_status_with_and_without_words():
    assert lost_reason("h1", _salt_run(2, stderr="Traceback ...\nKeyError: 'x'\n")) == \
        "salt-ssh exited with status 2 without an answer from h1: Traceback ...\nKeyError: 'x'"
    assert lost_reason("h1", _salt_run(0)) == \
        "salt-ssh exited with status 0 without an answer from h1 and without a word on stderr"


@pytest.mark.parametrize("status, signame", [(137, "SIGKILL"), (247, "SIGKILL"), (143, "SIGTERM"),
                                             (241, "SIGTERM"), (129, "SIGHUP")])
def test_remote_run_killed(status, signame):
    reason = failure_reason("h1", {"retcode": status, "stderr": "", "stdout": ""})
    assert reason == (f"the remote run was interrupted: Salt on h1 was killed by {signame} "
                      f"(exit status {status})")


def test_transport_failure_prefers_ssh_words_and_keeps_255_as_ssh():
    answer = {"retcode": 255, "stdout": "", "stderr": "Connection to 10.248.0.11 closed by remote host.\n"}
    assert failure_reason("h1", answer) == \
        "SSH to h1 failed (exit status 255): Connection to 10.248.0.11 closed by remote host."
    assert failure_reason("h1", {"retcode": 255, "stderr": "", "stdout": ""}) == \
        "the run on h1 failed with exit status 255 and without output"
    assert failure_reason("h1", {"retcode": 1, "stderr": "", "stdout": "boom"}) == \
        "the run on h1 failed with exit status 1: boom"


def _fake_salt_ssh(monkeypatch, result, nothing_earlier=True):
    calls = []

    def fake(targets, fun, *args, **kwargs):
        calls.append((targets, fun, args, kwargs))
        if isinstance(result, BaseException):
            raise result
        return result

    monkeypatch.setattr(runs, "salt_ssh", fake)
    monkeypatch.setattr(hostbusy, "salt_ssh", fake)
    if nothing_earlier:
        monkeypatch.setattr(hostbusy, "earlier_runs", lambda targets, **kwargs: {})
    return calls


def test_apply_states_summaries_name_the_reason(monkeypatch):
    state = {"file_|-a_|-/a_|-managed": {"result": True, "changes": {}, "comment": "", "__id__": "a",
                                         "__run_num__": 0}}
    _fake_salt_ssh(monkeypatch, _salt_run(-signal.SIGKILL, {
        "ok": state,
        "broken": {"retcode": 247, "stderr": "", "stdout": "", "parsed": None},
    }))
    run = runs.apply_states(["ok", "broken", "lost"], roster=Path("r"))
    assert run.summaries["ok"].success
    assert run.summaries["broken"].errors == [
        "the remote run was interrupted: Salt on broken was killed by SIGKILL (exit status 247)"]
    assert run.summaries["lost"].errors[0].startswith("salt-ssh was killed by SIGKILL before lost")


def test_apply_states_timeout_becomes_a_summary(monkeypatch):
    _fake_salt_ssh(monkeypatch, subprocess.TimeoutExpired(["salt-ssh"], 600, stderr=b"late\n"))
    run = runs.apply_states(["h1"], roster=Path("r"), timeout=600)
    assert run.summaries["h1"].errors[0].startswith("salt-ssh did not finish within 600s")
    assert run.run.stderr == "late\n"


# --- earlier runs still going ------------------------------------------------------------------

def _earlier(pid, holds=""):
    return hostbusy.EarlierRun(pid, datetime(2026, 12, 1, 2, 30, 5, tzinfo=UTC),
                           "apt-get" if holds else "salt-call state.pkg", holds)


def test_waits_until_the_earlier_run_is_over_and_says_so(monkeypatch, capsys):
    looks = iter([{"h1": [_earlier(4242)]}, {"h1": [_earlier(4242)]}, {}])
    monkeypatch.setattr(hostbusy, "earlier_runs", lambda targets, **kwargs: next(looks))
    assert hostbusy.wait_for_earlier_runs(["h1", "h2"], roster=Path("r"), poll_s=0) == {}
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == ("host h1: an earlier run (pid 4242, started 2026-12-01 02:30:05 UTC) is "
                        "still going; waiting")
    assert lines[1].startswith("host h1: the earlier run is over after ")
    assert len(lines) == 2


def test_gives_up_at_the_deadline_with_the_reason(monkeypatch, capsys):
    busy = {"h1": [_earlier(4242), _earlier(77, "/var/lib/dpkg/lock-frontend")]}
    monkeypatch.setattr(hostbusy, "earlier_runs", lambda targets, **kwargs: busy)
    blocked = hostbusy.wait_for_earlier_runs(["h1"], roster=Path("r"), wait_s=0, poll_s=0)
    assert blocked == {"h1": "not started: an earlier run (pid 4242, started 2026-12-01 02:30:05 UTC) "
                             "is still going; apt-get (pid 77, started 2026-12-01 02:30:05 UTC) holds "
                             "/var/lib/dpkg/lock-frontend after 0s of waiting"}
    assert "apt-get (pid 77" in capsys.readouterr().err


def test_apply_states_runs_only_where_nothing_is_going(monkeypatch):
    calls = _fake_salt_ssh(monkeypatch, _salt_run(0, {"free": {}}))
    monkeypatch.setattr(runs, "wait_for_earlier_runs", lambda targets, **kwargs: {"busy": "not started: x"})
    run = runs.apply_states(["busy", "free"], "test=True", roster=Path("r"))
    assert [c[0] for c in calls] == [["free"]]
    assert run.summaries["busy"].errors == ["not started: x"]
    assert list(run.summaries) == ["busy", "free"]


def test_earlier_runs_reads_each_hosts_probe(monkeypatch):
    probe = json.dumps([{"pid": 9, "started": 1796092205.0, "command": "salt-call state.pkg", "holds": ""}])
    calls = _fake_salt_ssh(monkeypatch, _salt_run(0, {
        "busy": {"stdout": probe, "stderr": "", "retcode": 0},
        "free": {"stdout": "[]\n", "stderr": "", "retcode": 0},
        "down": "ssh: connect to host 10.0.0.9 port 22: No route to host",
        "odd": {"stdout": "", "stderr": "python3: not found", "retcode": 127},
    }), nothing_earlier=False)
    result = earlier_runs(["busy", "free", "down", "odd"], roster=Path("r"))
    assert result == {"busy": [hostbusy.EarlierRun(9, datetime(2026, 12, 1, 2, 30, 5, tzinfo=UTC),
                                               "salt-call state.pkg")]}
    (targets, fun, args, _), = calls
    assert fun == "--raw" and args[0].endswith("| base32 -d | python3")
    assert "/" not in args[0].split()[1]


# --- running_here, as it runs on a host --------------------------------------------------------

def _started(argv):
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)


def test_running_here_finds_a_state_run_and_a_lock_holder_outside_it(tmp_path):
    lock = tmp_path / "lock-frontend"
    lock.write_text("")
    holds = f"import fcntl,time; f=open({str(lock)!r},'w'); fcntl.lockf(f, fcntl.LOCK_EX); " \
            "print(flush=True); time.sleep(60)"
    salt_call = _started([sys.executable, "-c", "import time; time.sleep(60)", "/tmp/thin/salt-call",
                          "--local", "--", "state.pkg", "/tmp/thin/salt_state.tgz"])
    apt = _started([sys.executable, "-c", holds])
    try:
        apt.stdout.readline()
        found = {entry["pid"]: entry for entry in running_here((str(lock), str(tmp_path / "none")))}
        assert found[salt_call.pid]["command"] == "salt-call state.pkg"
        assert found[salt_call.pid]["holds"] == ""
        assert found[apt.pid]["holds"] == str(lock)
        assert abs(found[apt.pid]["started"] - time.time()) < 30
    finally:
        salt_call.kill()
        apt.kill()


def test_running_here_folds_a_lock_holder_into_its_state_run(tmp_path):
    lock = tmp_path / "lock"
    lock.write_text("")
    # A "salt-call" whose child holds the lock: apt under the state run reports as that run only.
    child = f"import fcntl,os,time; f=open({str(lock)!r},'w'); fcntl.lockf(f, fcntl.LOCK_EX); " \
            "print(os.getpid(), flush=True); time.sleep(60)"
    parent = f"import subprocess,sys; subprocess.run([sys.executable, '-c', {child!r}])"
    salt_call = _started([sys.executable, "-c", parent, "/tmp/thin/salt-call", "--", "state.pkg"])
    apt = 0
    try:
        apt = int(salt_call.stdout.readline())
        entries = [e for e in running_here((str(lock),)) if e["holds"] or e["pid"] == salt_call.pid]
        assert [e["pid"] for e in entries] == [salt_call.pid]
    finally:
        if apt:
            os.kill(apt, signal.SIGKILL)
        salt_call.kill()
