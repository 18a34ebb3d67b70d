"""Evidence on this machine: every run's artifacts in a directory named by its UTC start, JSON
documents (each with a schema in docs/schemas/) and a report's markdown beside it."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dsu.paths import artifacts_dir


def utc_stamp(moment: datetime | None = None) -> str:
    """The name of a run directory: its UTC start, to the second (sorts by time)."""
    return (moment or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def run_dir(kind: str, out: Path | None = None, moment: datetime | None = None) -> Path:
    """A new directory ``<out or ci-artifacts/<kind>>/<UTC stamp>`` (created) for one run's
    evidence."""
    path = (out or artifacts_dir() / kind) / utc_stamp(moment)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def publish(report: dict[str, Any], text: str, directory: Path, elapsed_s: float) -> Path:
    """Write a report as ``report.json`` (its schema in docs/schemas/) and ``report.md`` into
    *directory*; print the markdown and where the evidence is."""
    write_json(directory / "report.json", report)
    (directory / "report.md").write_text(text)
    print(text.rstrip())
    print(f"done in {elapsed_s:.0f}s; evidence: {directory}")
    return directory
