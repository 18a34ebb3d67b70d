"""A deploy's evidence: ``<run>/<host>.json`` per host (docs/schemas/deploy-run.v2.json),
``<run>/summary.md`` (the per-host table) and ``LATEST_RUN.txt`` beside the runs, naming the
newest one. The smoke checks' own records are in ``<run>/smoke/``, the health summaries of the
same run id in ``ci-artifacts/health/<run id>/``."""

from datetime import UTC, datetime
from typing import Any, Protocol

from dsu.deploy.hostrun import PHASES, HostRun
from dsu.evidence import write_json
from dsu.paths import replace_file

SCHEMA = "deploy-system-unified/deploy-run/v2"


class _Run(Protocol):
    run_id: str
    started_at: datetime
    evidence: Any
    runs: list[HostRun]


def host_record(deploy: _Run, run: HostRun, finished: datetime) -> dict[str, Any]:
    target = run.target
    return {
        "schema": SCHEMA,
        "run_id": deploy.run_id,
        "host": run.name,
        "target": {"address": target.host, "port": target.port, "user": target.user,
                   "sudo": target.sudo},
        "started": deploy.started_at.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "ok": run.going,
        "failed_phase": run.failed,
        "reason": run.reason,
        "phases": run.phases,
    }


def table(runs: list[HostRun]) -> str:
    head = ["host", *PHASES, "result", "seconds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for run in runs:
        seconds = sum(p["duration_s"] for p in run.phases)
        result = "ok" if run.going else f"FAILED at {run.failed}"
        lines.append("| " + " | ".join([run.name, *(run.outcome(p) for p in PHASES), result,
                                        f"{seconds:.0f}"]) + " |")
    return "\n".join(lines)


def summary_text(deploy: _Run, finished: datetime) -> str:
    failed = [run for run in deploy.runs if not run.going]
    elapsed = (finished - deploy.started_at).total_seconds()
    text = [f"# Deploy {deploy.run_id}", "",
            f"{len(deploy.runs) - len(failed)} of {len(deploy.runs)} host(s) deployed in "
            f"{elapsed:.0f}s.", "", table(deploy.runs), ""]
    for run in failed:
        text.append(f"- **{run.name}** stopped at {run.failed}: {run.reason}")
    if failed:
        text.append("")
    text += [f"Per host: `<host>.json`; smoke checks: `smoke/`; health summaries: "
             f"`ci-artifacts/health/{deploy.run_id}/`.", ""]
    return "\n".join(text)


def write(deploy: _Run) -> None:
    finished = datetime.now(UTC)
    for run in deploy.runs:
        write_json(deploy.evidence / f"{run.name}.json", host_record(deploy, run, finished))
    (deploy.evidence / "summary.md").write_text(summary_text(deploy, finished))
    replace_file(deploy.evidence.parent / "LATEST_RUN.txt", f"{deploy.run_id}\n", 0o644)
