"""The run layer: salt-ssh from this checkout against N targets, each host's state run summarised,
and the stamped evidence directories every command writes its artifacts to."""

import fcntl
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dsu.errors import DsuError
from dsu.paths import REPO_ROOT, artifacts_dir, locked


def salt_bin(name: str) -> str:
    """The Salt script next to this interpreter (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise DsuError(f"{name} is not installed", "run ./bootstrap.sh setup")
    return found


# salt-ssh's thin tarball, built on first use into the cachedir of etc/salt/master's root_dir.
THIN_VERSION = REPO_ROOT / ".salt-root/var/cache/salt/master/thin/version"


@contextmanager
def _thin_built_once() -> Iterator[None]:
    """Salt builds the thin without a lock: concurrent first runs rewrite its version file,
    salt-call and tarball under each other. So until the thin exists, salt-ssh runs one at a
    time (parallel benchmarks and test workers on a fresh checkout); after that, freely."""
    if THIN_VERSION.exists():
        yield
        return
    with locked(REPO_ROOT / ".salt-root" / "thin.lock") as fd:
        if THIN_VERSION.exists():
            fcntl.flock(fd, fcntl.LOCK_UN)
        yield


@dataclass
class SaltRun:
    returncode: int
    returns: dict[str, Any]
    stderr: str


def salt_ssh(targets: list[str], fun: str, *args: str, roster: Path,
             timeout: float | None = None, config_dir: Path | None = None,
             log_level: str = "warning", wipe: bool = False) -> SaltRun:
    """Call *fun* on *targets* through salt-ssh; one JSON document back, keyed by host. *wipe*
    removes salt-ssh's working directory on the target afterwards, including the state bundle
    whose pillar.json holds the decrypted pillar."""
    config = [f"--config-dir={config_dir}"] if config_dir else []
    config += ["--wipe"] if wipe else []
    argv = [salt_bin("salt-ssh"), *config, f"--roster-file={roster}", "--out=json", "--static",
            "--no-color", f"--log-level={log_level}", "-L", ",".join(targets), fun, *args]
    with _thin_built_once():
        proc = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
    try:
        returns = json.loads(proc.stdout) if proc.stdout.strip() else {}
    except json.JSONDecodeError as exc:
        raise DsuError(f"salt-ssh printed something that is not JSON: {proc.stdout[:200]!r}",
                       "run the same salt-ssh command by hand to see its output") from exc
    return SaltRun(proc.returncode, returns, proc.stderr)


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


def apply_states(targets: list[str], *args: str, roster: Path, timeout: float | None = None,
                 config_dir: Path | None = None, wipe: bool = False) -> StateRun:
    """``state.apply *args`` on *targets* in one salt-ssh run; a host without an answer gets a
    failed summary carrying salt-ssh's stderr (the reason it was lost)."""
    started = time.monotonic()
    run = salt_ssh(targets, "state.apply", *args, roster=roster, timeout=timeout,
                   config_dir=config_dir, wipe=wipe)
    duration = time.monotonic() - started
    lost = [f"no return: {run.stderr[-500:]}"]
    return StateRun({name: summarize_states(run.returns.get(name, lost)) for name in targets},
                    duration, run)


# --- evidence --------------------------------------------------------------------------------


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
