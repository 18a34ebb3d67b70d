"""`dsu deploy`: the canonical deploy path against lab hosts: boot, preflight, highstate over
salt-ssh, health gate, idempotence re-check, record."""

import argparse
import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dsu import preflight
from dsu.argtypes import output_directory
from dsu.errors import DsuError
from dsu.evidence import run_dir, write_json
from dsu.lab import hosts as lab
from dsu.lab.cli import host_count, host_name
from dsu.lab.image import RELEASES
from dsu.progress import Progress
from dsu.runs import StateRun, StateSummary, apply_states
from dsu.saltssh import salt_ssh

SCHEMA = "deploy-system-unified/deploy-run/v1"


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


def _apply(names: list[str], mode: str, progress: Progress) -> StateRun:
    args = ["test=True"] if mode == "test" else []
    progress.step(f"state.apply{' test=True' if args else ''} via salt-ssh on {', '.join(names)}")
    # Every run wipes salt-ssh's working directory on the hosts when it ends, failed or not: its
    # state bundle holds the decrypted pillar (docs/secrets.md, "No leaks").
    return apply_states(names, *args, roster=lab.roster_file(), wipe=True)


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
                   roster=lab.roster_file())
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
    problems = preflight.check(names, lab.roster_file(), progress=progress)
    for problem in problems:
        print(problem.line())
    if problems:
        raise DsuError(f"preflight found {len(problems)} problem(s) for {', '.join(names)}; "
                       "nothing was changed", "fix the problems listed above, then deploy again")
    applied = _apply(names, "apply", progress)
    evidence = run_dir("deploy", out, started_at)
    health = _health(names, evidence.name, progress)
    checked = _apply(names, "test", progress)
    failed = []
    for host in hosts:
        first, second = applied.summaries[host.name], checked.summaries[host.name]
        healthy = health[host.name]
        record = {
            "schema": SCHEMA,
            "run_id": evidence.name,
            "host": host.name,
            "target": {"kind": "lab", "address": host.address, "release": host.release},
            "started": started_at.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "runs": [_run_record("apply", first, applied.duration_s),
                     _run_record("test", second, checked.duration_s)],
            "idempotent": second.success and second.changed == 0,
            "health": _health_record(healthy, evidence.name),
        }
        write_json(evidence / f"{host.name}.json", record)
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
          f"in {progress.elapsed():.0f}s; evidence: {evidence}, health: ci-artifacts/health/"
          f"{evidence.name}")
    print(f"hosts stay up: `dsu lab ssh {names[0]}` to look, `dsu lab down {' '.join(names)}` "
          "to remove them")
    if failed:
        raise DsuError(f"highstate failed, is not idempotent or unhealthy on {', '.join(failed)}",
                       f"read {evidence}")
    return 0


def _command(args: argparse.Namespace) -> int:
    running = {h.name for h in lab.registered() if h.alive()}
    try:
        return deploy_lab(args.lab, args.count, args.release, args.out)
    except KeyboardInterrupt:
        _interrupted(args.lab, args.count, running)
        raise


def _interrupted(name: str, count: int, running: set[str]) -> None:
    """An interrupted deploy stops the hosts it booted itself: new and half configured, they are
    worth nothing. Hosts that were up before it stay, as they may hold more than this deploy;
    the operator is told what is left on them and how to remove it."""
    progress = Progress()
    names = lab.host_names(name, count)
    up = {h.name for h in lab.registered()}
    booted = [n for n in names if n in up and n not in running]
    if booted:
        lab.down(booted, progress)
    kept = [n for n in names if n in up and n in running]
    if kept:
        again = f"dsu deploy --lab {name}" + (f" --count {count}" if count > 1 else "")
        progress.step(f"interrupted; hosts up before this deploy stay up: {', '.join(kept)}, maybe "
                      "half configured and holding salt-ssh's working directory (with the decrypted "
                      f"pillar) under /var/tmp: `{again}` finishes the deploy and wipes it, "
                      f"`dsu lab down {' '.join(kept)}` removes them")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("deploy", help="the canonical deploy path; interrupted, it stops "
                                 "the hosts it booted itself")
    parser.add_argument("--lab", required=True, metavar="NAME", type=host_name,
                        help="deploy to lab host(s) of this name, booting them if needed")
    parser.add_argument("--count", type=host_count(), default=1)
    parser.add_argument("--release", choices=RELEASES, default="bookworm")
    parser.add_argument("--out", type=output_directory,
                        help="artifact directory (default ci-artifacts/deploy)")
    parser.set_defaults(func=_command)
