"""The canonical deploy path against lab hosts: boot, preflight, highstate over salt-ssh, health
gate, idempotence re-check, record."""

import json
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dsu.errors import DsuError
from dsu.lab import hosts as lab
from dsu.lab.roster import roster_path
from dsu.paths import artifacts_dir
from dsu.preflight import preflight
from dsu.progress import Progress
from dsu.saltrun import StateSummary, salt_ssh, summarize_states

SCHEMA = "deploy-system-unified/deploy-run/v1"


def utc_stamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def _run_record(mode: str, summary: StateSummary, duration: float) -> dict[str, Any]:
    return {
        "mode": mode,
        "success": summary.success,
        "duration_s": round(duration, 2),
        "counts": {"ok": summary.ok, "changed": summary.changed, "failed": summary.failed},
        "errors": summary.errors,
        "changed_states": [asdict(p) for p in summary.changed_states],
        "failed_states": [asdict(p) for p in summary.failed_states],
    }


def _apply(names: list[str], mode: str, progress: Progress) -> tuple[dict[str, Any], float]:
    args = ["test=True"] if mode == "test" else []
    progress.step(f"state.apply{' test=True' if args else ''} via salt-ssh on {', '.join(names)}")
    started = time.monotonic()
    # The last run wipes salt-ssh's working directory on the hosts: its state bundle would keep
    # the decrypted pillar there until the next run.
    run = salt_ssh(names, "state.apply", *args, roster=roster_path(lab.lab_dir()),
                   wipe=mode == "test")
    duration = time.monotonic() - started
    return {name: summarize_states(run.returns.get(name, [f"no return: {run.stderr[-500:]}"]))
            for name in names}, duration


# What a converged lab host must show. Lab hosts carry none of the production services the health
# module checks by default (caddy, podman): the deploy checks what the core roles provide.
LAB_HEALTH = {
    "use_defaults": False,
    "units": {u: {} for u in ("ssh.service", "systemd-journald.service", "rsyslog.service",
                              "chrony.service")},
    "failed_units": {"enabled": True, "mandatory": False},
    "disks": {"/": {"warn": 85, "critical": 95}},
}


def _health(names: list[str], run_id: str, progress: Progress) -> dict[str, dict[str, Any]]:
    """health.check on every host; the job cache files the artifacts in ci-artifacts/health."""
    progress.step(f"health.check via salt-ssh on {', '.join(names)} (run {run_id})")
    run = salt_ssh(names, "health.check", f"run_id={run_id}", f"checks={json.dumps(LAB_HEALTH)}",
                   roster=roster_path(lab.lab_dir()))
    found = {}
    for host in names:
        summary = run.returns.get(host)
        found[host] = summary if isinstance(summary, dict) and "overall_ok" in summary else {
            "overall_ok": False, "overall_status": "fail",
            "mandatory_failures": [f"no health summary: {str(summary or run.stderr[-300:])[:300]}"]}
    return found


def _health_record(summary: dict[str, Any], run_id: str) -> dict[str, Any]:
    return {"run_id": run_id, "overall_status": summary["overall_status"],
            "overall_ok": summary["overall_ok"], "mandatory_failures": summary["mandatory_failures"],
            "artifacts": f"ci-artifacts/health/{run_id}"}


def deploy_lab(name: str, count: int, release: str, out: Path | None = None) -> int:
    progress = Progress()
    started_at = datetime.now(UTC)
    hosts = lab.up(name, count, release, progress)
    names = [h.name for h in hosts]
    # Before any change: secrets files decrypt, required keys exist, nothing plaintext (see
    # docs/preflight.md). A failed preflight leaves the hosts untouched.
    refused = [h.name for h in hosts if preflight(h.name, progress=progress) != 0]
    if refused:
        raise DsuError(f"preflight failed on {', '.join(refused)}; nothing was changed",
                       "fix the problems listed above, then deploy again")
    applied, apply_s = _apply(names, "apply", progress)
    run_dir = (out or artifacts_dir() / "deploy") / utc_stamp(started_at)
    health = _health(names, run_dir.name, progress)
    checked, check_s = _apply(names, "test", progress)
    run_dir.mkdir(parents=True, exist_ok=True)
    failed = []
    for host in hosts:
        first, second = applied[host.name], checked[host.name]
        healthy = health[host.name]
        record = {
            "schema": SCHEMA,
            "run_id": run_dir.name,
            "host": host.name,
            "target": {"kind": "lab", "address": host.address, "release": host.release},
            "started": started_at.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "runs": [_run_record("apply", first, apply_s), _run_record("test", second, check_s)],
            "idempotent": second.success and second.changed == 0,
            "health": _health_record(healthy, run_dir.name),
        }
        (run_dir / f"{host.name}.json").write_text(json.dumps(record, indent=2) + "\n")
        verdict = "ok" if first.success and record["idempotent"] and healthy["overall_ok"] \
            else "FAILED"
        if verdict != "ok":
            failed.append(host.name)
        progress.step(
            f"{verdict}: {first.ok + first.changed + first.failed} states, {first.changed} changed, "
            f"{first.failed} failed; health {healthy['overall_status']}; "
            f"re-check test=True: {second.changed} would change", host.name)
        for check in healthy["mandatory_failures"]:
            progress.step(f"  health: mandatory check failed: {check}", host.name)
        for problem in first.failed_states:
            progress.step(f"  failed {problem.id} ({problem.sls}): {problem.comment}", host.name)
        for error in first.errors + second.errors:
            progress.step(f"  error: {error[:500]}", host.name)
    print(f"deploy {'FAILED on ' + ', '.join(failed) if failed else 'succeeded'} "
          f"in {progress.elapsed():.0f}s; evidence: {run_dir}, health: ci-artifacts/health/"
          f"{run_dir.name}")
    print(f"hosts stay up: `dsu lab ssh {names[0]}` to look, `dsu lab down {' '.join(names)}` "
          "to remove them")
    if failed:
        raise DsuError(f"highstate failed, is not idempotent or unhealthy on {', '.join(failed)}",
                       f"read {run_dir}")
    return 0
