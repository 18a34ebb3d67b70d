"""`dsu deploy` over roster targets: per host lock → bootstrap (first contact only) →
preflight → highstate → recheck (test=True, zero changes) → health gate → smoke → evidence.

Hosts go through each phase together (one salt-ssh run over all of them where Salt can, threads
where it cannot); a host that fails a phase stops there and is reported, the others go on. A
host that failed preflight is never changed. A problem preflight finds on this side (a secrets
file that does not decrypt, a key directory open to others) is common to every host and stops
all of them before any change.
"""

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dsu import preflight, smoke
from dsu.deploy import bootstrap, hostlock, record
from dsu.deploy.hostrun import HostRun, state_detail, state_reason
from dsu.errors import DsuError
from dsu.evidence import run_dir
from dsu.password import Password
from dsu.progress import Progress
from dsu.runs import apply_states
from dsu.targets import Target, read_roster

HEALTH_TIMEOUT_S = 300


@dataclass
class Options:
    roster: Path
    profile: str | None = None
    password: Callable[[], Password] | None = None  # asked at most once, when a host needs it
    guard_s: int = bootstrap.GUARD_S
    out: Path | None = None
    kind: str = "deploy"  # "bootstrap": lock and bootstrap only, bootstrapped hosts verified
    config_dir: Path | None = None  # the operator's Salt config (pillar roots); default etc/salt


def _each(runs: list[HostRun], work: Callable[[HostRun], None]) -> None:
    """*work* on every host still going, each in a thread of its own. Daemon threads: an
    interrupted deploy does not wait for them (a bootstrap under way is left to its guard on the
    host, a lock to its heartbeat)."""
    threads = [threading.Thread(target=work, args=(run,), daemon=True)
               for run in runs if run.going]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)  # in short waits, so SIGINT/SIGTERM reach the main thread


def _pillar_args(options: Options) -> list[str]:
    return [f"pillar={json.dumps({'deploy': {'profile': options.profile}})}"] \
        if options.profile else []


def _health_summary(answer: object) -> dict[str, Any] | None:
    """The health summary the gate state returns (its extra key ``health``)."""
    if not isinstance(answer, dict):
        return None
    for state in answer.values():
        found = state.get("health") if isinstance(state, dict) else None
        if isinstance(found, dict) and "overall_ok" in found:
            return found
    return None


class Deploy:
    def __init__(self, targets: list[Target], options: Options, progress: Progress) -> None:
        self.options = options
        self.progress = progress
        self.started_at = datetime.now(UTC)
        self.evidence = run_dir(options.kind, options.out, self.started_at)
        self.run_id = self.evidence.name
        self.runs = [HostRun(target) for target in targets]
        self.locks: dict[str, hostlock.HostLock] = {}
        self._password: Password | None = None
        self._asking = threading.Lock()
        self.current = "lock"  # the phase under way

    # --- phases ---------------------------------------------------------------------------

    def lock(self) -> None:
        self.progress.step("taking each host's deploy lock",
                           ", ".join(r.name for r in self.runs))
        _each(self.runs, self._take_lock)

    def _take_lock(self, run: HostRun, takeover: bool = False) -> None:
        who = f"dsu {self.options.kind} on {socket.gethostname()} (pid {os.getpid()})"
        started = time.monotonic()
        try:
            if run.target.bootstrap and not takeover:
                # First contact: root may take only its password; the operator's key goes in
                # first, so the lock and every later step log in with the key.
                bootstrap.first_reach(run.target, self._root_password)
            held = hostlock.take(run.target, self.run_id, who, takeover=takeover)
        except (hostlock.HostBusy, RuntimeError, DsuError) as exc:
            run.record("lock", False, started, getattr(exc, "message", str(exc)))
            return
        earlier = self.locks.get(run.name)
        self.locks[run.name] = held
        if earlier:
            earlier.release()
        else:
            run.record("lock", True, started)

    def bootstrap(self) -> None:
        verify = self.options.kind == "bootstrap"  # `dsu bootstrap` checks bootstrapped hosts too
        first = [run for run in self.runs if run.going and (verify or run.target.bootstrap)]
        if not first:
            return

        def one(run: HostRun) -> None:
            started = time.monotonic()
            try:
                outcome = bootstrap.bootstrap(run.target, self.options.roster,
                                              password=self._root_password,
                                              guard_s=self.options.guard_s,
                                              progress=self.progress,
                                              config_dir=self.options.config_dir)
            except Exception as exc:  # noqa: BLE001 - reported as the host's failure
                run.record("bootstrap", False, started, getattr(exc, "message", str(exc)))
                return
            run.record("bootstrap", outcome.ok, started, outcome.reason, steps=outcome.steps,
                       changed=outcome.changed)
        _each(first, one)
        fresh = read_roster(self.options.roster)
        for run in first:
            if run.going and run.name in fresh:
                run.target = fresh[run.name]
                # The session the lock was taken over is closed now: hold it over the new way
                # in (the holder of the same run id makes way).
                self._take_lock(run, takeover=True)

    def _root_password(self) -> Password | None:
        """Root's password, asked (or read) once for the whole fleet and only when a host
        refuses the operator's key; None when the operator gave no way to get it."""
        with self._asking:
            if self._password is None and self.options.password is not None:
                self._password = self.options.password()
            return self._password

    def preflight(self) -> None:
        going = [run for run in self.runs if run.going]
        if not going:
            return
        started = time.monotonic()
        extra = {"deploy": {"profile": self.options.profile}} if self.options.profile else None
        found = preflight.check([r.name for r in going], self.options.roster,
                                config_dir=self.options.config_dir, progress=self.progress,
                                pillar=extra)
        common = list(found)[:found.local]
        for run in going:
            problems = common + found.by_host.get(run.name, [])
            reason = "; ".join(p.line() for p in problems)[:2000]
            if common:
                reason = "a problem common to every host stops all of them before any change: " \
                    + reason
            run.record("preflight", not problems, started, reason,
                       problems=[p.line() for p in problems])

    def highstate(self) -> None:
        self._states("highstate", [], require_unchanged=False)

    def recheck(self) -> None:
        self._states("recheck", ["test=True"], require_unchanged=True)

    def _states(self, phase: str, args: list[str], require_unchanged: bool) -> None:
        going = [run for run in self.runs if run.going]
        if not going:
            return
        names = [r.name for r in going]
        self.progress.step(f"{phase}: state.apply {' '.join(args)} via salt-ssh", ", ".join(names))
        started = time.monotonic()
        # Every run wipes salt-ssh's working directory on the hosts: its state bundle holds the
        # compiled pillar (docs/secrets.md, "No leaks").
        applied = apply_states(names, *args, *_pillar_args(self.options),
                               roster=self.options.roster, config_dir=self.options.config_dir,
                               wipe=True)
        for run in going:
            summary = applied.summaries[run.name]
            ok = summary.success and not (require_unchanged and summary.changed)
            reason = state_reason(summary) if not summary.success else (
                f"{summary.changed} state(s) would change on a re-apply" if not ok else "")
            run.record(phase, ok, started, reason, **state_detail(summary))
            self.progress.step(f"{phase} {'ok' if ok else 'FAILED'}: {summary.changed} changed, "
                               f"{summary.failed} failed", run.name)

    def health(self) -> None:
        going = [run for run in self.runs if run.going]
        if not going:
            return
        started = time.monotonic()
        names = [r.name for r in going]
        self.progress.step(f"health gate: state.apply ops.health_check (run {self.run_id})",
                           ", ".join(names))
        # The gate state, not health.check: salt-ssh gives the host's pillar (the profile's
        # checks, the host's own) to state runs only. The job cache files each summary in
        # ci-artifacts/health/<run id>.
        pillar = {"health_check": {"run_id": self.run_id}}
        if self.options.profile:
            pillar["deploy"] = {"profile": self.options.profile}
        applied = apply_states(names, "ops.health_check", f"pillar={json.dumps(pillar)}",
                               roster=self.options.roster, config_dir=self.options.config_dir,
                               timeout=HEALTH_TIMEOUT_S, wipe=True)
        for run in going:
            summary = _health_summary(applied.run.returns.get(run.name))
            if summary is None:
                run.record("health", False, started,
                           f"no health summary: {state_reason(applied.summaries[run.name])}")
                continue
            failures = summary.get("mandatory_failures") or []
            run.record("health", bool(summary["overall_ok"]), started,
                       f"mandatory health checks failed: {', '.join(failures)}" if failures else "",
                       run_id=self.run_id, overall_status=summary.get("overall_status"),
                       mandatory_failures=failures,
                       artifacts=f"ci-artifacts/health/{self.run_id}")

    def smoke(self) -> None:
        going = [run for run in self.runs if run.going]
        if not going:
            return
        started = time.monotonic()
        results = smoke.smoke([r.target for r in going], health_run=self.run_id,
                              out=self.evidence / "smoke", progress=self.progress,
                              run_id=self.run_id, config_dir=self.options.config_dir)
        for run in going:
            result = results[run.name]
            run.record("smoke", result.ok, started,
                       f"smoke checks failed: {', '.join(result.failed)}" if not result.ok else "",
                       failed_checks=list(result.failed), evidence=f"smoke/{run.name}.json")

    # --- the whole -------------------------------------------------------------------------

    def run(self) -> list[HostRun]:
        try:
            phases = (self.lock, self.bootstrap) if self.options.kind == "bootstrap" else (
                self.lock, self.bootstrap, self.preflight, self.highstate, self.recheck,
                self.health, self.smoke)
            for phase in phases:
                self.current = phase.__name__
                phase()
        except KeyboardInterrupt:
            for run in self.runs:
                if run.going:
                    run.failed, run.reason = self.current, "interrupted"
            raise
        finally:
            for held in self.locks.values():
                held.release()
            record.write(self)
        return self.runs

    def summary(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "evidence": str(self.evidence),
                "failed": [r.name for r in self.runs if not r.going]}
