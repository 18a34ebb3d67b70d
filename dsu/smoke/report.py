"""Smoke evidence: one JSON document per host (docs/schemas/smoke-run.v1.json), a summary.md of
all hosts, and the table `dsu smoke` prints."""

import json
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dsu.evidence import write_json
from dsu.smoke.checks import HostResult

SCHEMA = "deploy-system-unified/smoke-run/v1"


def _when(result: HostResult, moment: str) -> str:
    return getattr(result, moment).isoformat(timespec="seconds")


def host_document(result: HostResult, run_id: str) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "run_id": run_id,
        "host": result.host,
        "target": {"address": result.address, "user": result.user, "port": result.port},
        "started": _when(result, "started"),
        "finished": _when(result, "finished"),
        "duration_s": round((result.finished - result.started).total_seconds(), 2),
        "ok": result.ok,
        "failed": result.failed,
        "checks": [asdict(check) for check in result.checks],
    }


def write_host(out: Path, result: HostResult, run_id: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    return write_json(out / f"{result.host}.json", host_document(result, run_id))


def _cell(value: object, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = " ".join(text.split()).replace("|", "\\|").replace("`", "'")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def render_summary(results: Iterable[HostResult], run_id: str) -> str:
    """Failing hosts first: a line per host, a table of checks by host, then every failure with
    what was observed and expected. The same results always give the same text."""
    hosts = sorted(results, key=lambda r: (r.ok, r.host))
    lines = [f"# Smoke run {run_id}", ""]
    lines += [f"- **{r.host}** ({r.user}@{r.address}:{r.port}): "
              + ("PASS" if r.ok else f"FAIL ({', '.join(r.failed)})") for r in hosts] \
        or ["No hosts."]
    names = list(dict.fromkeys(c.name for r in hosts for c in r.checks))
    if names:
        verdicts = {r.host: {c.name: c.ok for c in r.checks} for r in hosts}
        lines += ["", "| check | " + " | ".join(r.host for r in hosts) + " |",
                  "| --- |" + " --- |" * len(hosts)]
        for name in names:
            cells = [verdicts[r.host].get(name) for r in hosts]
            row = ["–" if ok is None else "ok" if ok else "**FAIL**" for ok in cells]
            lines.append(f"| {name} | " + " | ".join(row) + " |")
    for result in hosts:
        bad = [c for c in result.checks if not c.ok]
        if bad:
            lines += ["", f"## {result.host}", ""]
            lines += [f"- **{c.name}**: {_cell(c.message)} — observed `{_cell(c.observed)}`, "
                      f"expected `{_cell(c.expected)}`" for c in bad]
    return "\n".join(lines) + "\n"


def write_summary(out: Path, results: Iterable[HostResult], run_id: str) -> Path:
    path = out / "summary.md"
    path.write_text(render_summary(results, run_id))
    return path


def table(results: Iterable[HostResult]) -> str:
    """One line per host for the terminal: verdict, then each failed check's message."""
    lines = []
    for result in sorted(results, key=lambda r: r.host):
        seconds = (result.finished - result.started).total_seconds()
        lines.append(f"{result.host:<20} {'ok' if result.ok else 'FAILED':<7} "
                     f"{len(result.checks) - len(result.failed)}/{len(result.checks)} checks "
                     f"passed ({seconds:.1f}s)")
        lines += [f"  {c.name}: {c.message}" for c in result.checks if not c.ok]
    return "\n".join(lines)
