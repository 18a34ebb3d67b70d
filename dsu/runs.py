"""The run layer: ``state.apply`` over salt-ssh on N targets, once no earlier run is going on them,
each host's answer summarised, and a host without one given the reason."""

import json
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsu.hostbusy import EARLIER_RUN_WAIT_S, wait_for_earlier_runs
from dsu.saltssh import SaltRun, salt_ssh


@dataclass
class StateProblem:
    id: str
    sls: str
    result: bool | None
    changed: bool
    comment: str
    function: str = ""  # e.g. "cmd.run", from the state's tag


@dataclass
class StateSummary:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    changed_states: list[StateProblem] = field(default_factory=list)
    failed_states: list[StateProblem] = field(default_factory=list)
    sls: set[str] = field(default_factory=set)

    @property
    def success(self) -> bool:
        return not self.errors and self.failed == 0


def summarize_states(ret: Any) -> StateSummary:
    """Count a state run's results. A list (render errors) or an SSH error dict is a failure."""
    summary = StateSummary()
    if isinstance(ret, list):
        summary.errors = [str(e) for e in ret] or ["empty state return"]
        return summary
    if not isinstance(ret, dict) or not all(isinstance(v, dict) for v in ret.values()):
        summary.errors = [json.dumps(ret)[:2000]]
        return summary
    if "retcode" in ret and ("stderr" in ret or "stdout" in ret):
        summary.errors = [str(ret.get("stderr") or ret.get("stdout"))[-2000:]]
        return summary
    for key, state in sorted(ret.items(), key=lambda kv: kv[1].get("__run_num__", 0)):
        parts = key.split("_|-")
        problem = StateProblem(
            id=state.get("__id__", parts[1] if len(parts) > 1 else key),
            sls=state.get("__sls__", ""),
            result=state.get("result"),
            changed=bool(state.get("changes")),
            comment=str(state.get("comment", ""))[:1000],
            function=f"{parts[0]}.{parts[-1]}" if len(parts) == 4 else "",
        )
        summary.sls.add(problem.sls)
        if state.get("result") is False:
            summary.failed += 1
            summary.failed_states.append(problem)
        elif problem.changed or state.get("result") is None:
            summary.changed += 1
            summary.changed_states.append(problem)
        else:
            summary.ok += 1
    return summary


@dataclass
class StateRun:
    """One ``state.apply`` over salt-ssh on several hosts: a summary per host and the wall time."""

    summaries: dict[str, StateSummary]
    duration_s: float
    run: SaltRun


# --- why a host has no state return --------------------------------------------------------

# ssh's own words for a connection that failed or broke (salt-ssh passes them on in its output).
_SSH_TROUBLE = re.compile(
    r"^ssh: |^client_loop: |^kex_exchange_identification: |Connection (refused|timed out|reset)"
    r"|closed by remote host|Broken pipe|No route to host|Host key verification failed"
    r"|Permission denied|Could not resolve hostname|Timeout, server")
# The run on the host outlives its operator (see above): say what the next run will do about it.
_MAY_GO_ON = "the run on the host may go on unattended; the next run waits for it"
# Signals whose exit statuses are read as such; 255 stays ssh's own "connection failed".
_KILLING = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGABRT, signal.SIGKILL,
            signal.SIGSEGV, signal.SIGPIPE, signal.SIGTERM)


def _ssh_complaint(text: str) -> str:
    """ssh's last complaint about the connection in *text*, "" if it has none."""
    return next((line.strip() for line in reversed(text.splitlines())
                 if _SSH_TROUBLE.search(line.strip())), "")


def _tail(text: str) -> str:
    """The end of *text* worth quoting: its last lines, at most 500 characters."""
    return text.strip()[-500:].strip()


def _killed_by(status: object) -> str:
    """The signal an exit status reports, "" if none: a shell says 128+n, Python's
    sys.exit(returncode) of a killed child (salt-ssh's shim on the host) says 256-n."""
    if not isinstance(status, int) or status == 255:
        return ""
    return next((sig.name for sig in _KILLING if status in (128 + sig, 256 - sig)), "")


def lost_reason(host: str, run: SaltRun, stopped_after: float | None = None) -> str:
    """Why *host* has no answer in *run*: salt-ssh stopped by our timeout (*stopped_after*
    seconds) or killed by a signal, ssh's complaint, or salt-ssh's exit status and last words."""
    if stopped_after is not None:
        return (f"salt-ssh did not finish within {stopped_after:.0f}s and was stopped before "
                f"{host} answered; {_MAY_GO_ON}")
    if run.returncode < 0:
        return (f"salt-ssh was killed by {signal.Signals(-run.returncode).name} before {host} "
                f"answered; {_MAY_GO_ON}")
    complaint = _ssh_complaint(run.stderr)
    if complaint:
        return f"SSH to {host} failed: {complaint}"
    said = _tail(run.stderr)
    return (f"salt-ssh exited with status {run.returncode} without an answer from {host}"
            + (f": {said}" if said else " and without a word on stderr"))


def failure_reason(host: str, answer: dict[str, Any]) -> str:
    """Why the command on *host* failed on the way, from salt-ssh's transport error
    ({"retcode", "stderr", "stdout"}): ssh's complaint, the remote run killed, or its exit status
    and last words."""
    status = answer.get("retcode")
    stderr, stdout = str(answer.get("stderr") or ""), str(answer.get("stdout") or "")
    complaint = _ssh_complaint(stderr)
    if complaint:
        return f"SSH to {host} failed (exit status {status}): {complaint}"
    killer = _killed_by(status)
    if killer:
        return (f"the remote run was interrupted: Salt on {host} was killed by {killer} "
                f"(exit status {status})")
    said = _tail(stderr) or _tail(stdout)
    return (f"the run on {host} failed with exit status {status}"
            + (f": {said}" if said else " and without output"))


def _state_answer(host: str, run: SaltRun, stopped_after: float | None) -> Any:
    """*host*'s state return from *run*, or a one-line reason list when there is none."""
    answer = run.returns.get(host)
    if answer is None:
        return [lost_reason(host, run, stopped_after)]
    if isinstance(answer, dict) and "retcode" in answer and \
            ("stderr" in answer or "stdout" in answer):
        return [failure_reason(host, answer)]
    return answer


def apply_states(targets: list[str], *args: str, roster: Path, timeout: float | None = None,
                 config_dir: Path | None = None, wipe: bool = False,
                 wait_s: float = EARLIER_RUN_WAIT_S) -> StateRun:
    """``state.apply *args`` on *targets* in one salt-ssh run, once no earlier run is going on
    them (waiting up to *wait_s*, see wait_for_earlier_runs; the wait is not in the duration). A
    host that is still busy, did not answer or whose run broke on the way gets a failed summary
    naming the reason (lost_reason, failure_reason)."""
    summaries = {host: summarize_states([reason]) for host, reason in
                 wait_for_earlier_runs(targets, roster=roster, config_dir=config_dir,
                                       wait_s=wait_s).items()}
    ready = [host for host in targets if host not in summaries]
    started = time.monotonic()
    run, stopped_after = SaltRun(0, {}, ""), None
    if ready:
        try:
            run = salt_ssh(ready, "state.apply", *args, roster=roster, timeout=timeout,
                           config_dir=config_dir, wipe=wipe)
        except subprocess.TimeoutExpired as exc:
            said = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) \
                else exc.stderr or ""
            run, stopped_after = SaltRun(-signal.SIGKILL, {}, said), exc.timeout
    duration = time.monotonic() - started
    for host in ready:
        summaries[host] = summarize_states(_state_answer(host, run, stopped_after))
    return StateRun({host: summaries[host] for host in targets}, duration, run)
