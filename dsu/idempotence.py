"""The idempotence benchmark: each role converged on a fresh lab host, then a test=True rerun and a
real re-apply, all three recorded; verdicts, problem clusters, artifacts, and a baseline delta."""

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from dsu import yamlread
from dsu.argtypes import directory, existing_path, integer, json_object, name_list, output_directory
from dsu.errors import DsuError
from dsu.evidence import run_dir, write_json
from dsu.lab import hosts as lab
from dsu.lab.image import RELEASES
from dsu.paths import REPO_ROOT
from dsu.progress import Progress
from dsu.runs import StateProblem, StateSummary, apply_states

SCHEMA = "deploy-system-unified/idempotence-summary/v1"
RUNS = ("apply", "test", "reapply")
RUN_TIMEOUT_SECONDS = 900  # a hung salt-ssh must not hold the whole benchmark
# Interrupted, the benchmark waits this long for its running roles to come back once their
# salt-ssh runs are killed and their hosts stopped (they return within seconds then).
ABANDON_SECONDS = 30
MAX_JOBS = 16  # roles at once: each is a booting host and a salt-ssh run on this machine
CLUSTERS = ("unsupported_argument", "environment_or_package", "unguarded_command", "role_specific")

_UNSUPPORTED = re.compile(r"unexpected keyword|invalid (keyword )?argument|is not a valid|unknown "
                          r"argument|takes no keyword|unsupported (argument|option)", re.I)
_ENVIRONMENT = re.compile(r"no package|unable to locate package|not installed|command not found|"
                          r"no such file|not found|not available|read-only file system|"
                          r"permission denied|no installation candidate", re.I)


def core_roles(roles_file: Path = REPO_ROOT / "salt/core/roles.yaml") -> list[str]:
    """The roles `core` includes, in its order (salt/core/roles.yaml): what the benchmark covers."""
    return [str(role) for role in yamlread.load_file(roles_file)]


def classify(problem: StateProblem, run: str) -> str:
    """Put a failing or non-idempotent state into one cluster, by the evidence Salt gave."""
    if _UNSUPPORTED.search(problem.comment):
        return "unsupported_argument"
    if problem.function.startswith("cmd.") and run != "apply":
        return "unguarded_command"
    if _ENVIRONMENT.search(problem.comment):
        return "environment_or_package"
    return "role_specific"


@dataclass
class RunRecord:
    mode: str
    duration_s: float
    ok: int
    changed: int
    failed: int
    errors: list[str]


@dataclass
class Problem:
    run: str
    id: str
    sls: str
    function: str
    kind: str  # "failed" or "changed"
    cluster: str
    evidence: str


@dataclass
class RoleResult:
    role: str
    host: str
    verdict: str = "failed"
    runs: list[RunRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def verdict(summaries: list[StateSummary]) -> str:
    if any(not s.success for s in summaries):
        return "failed"
    return "idempotent" if all(s.changed == 0 for s in summaries[1:]) else "not_idempotent"


def _problems(run: str, summary: StateSummary) -> list[Problem]:
    found = [Problem(run, "(render or transport)", "", "", "failed", "role_specific", e[:2000])
             for e in summary.errors]
    for kind, states in (("failed", summary.failed_states),
                         ("changed", summary.changed_states if run != "apply" else [])):
        for p in states:
            found.append(Problem(run, p.id, p.sls, p.function, kind, classify(p, run),
                                 (p.comment or "")[:2000]))
    for problem in found:
        if problem.id == "(render or transport)" and _UNSUPPORTED.search(problem.evidence):
            problem.cluster = "unsupported_argument"
    return found


def _host_prefix() -> str:
    """The start of the names of the hosts this run boots, one per role."""
    return f"i{os.getpid()}-"


def run_role(role: str, index: int, release: str, pillar: dict[str, Any] | None,
             progress: Progress, config_dir: Path | None,
             stop: threading.Event | None = None) -> RoleResult:
    """One role on its own fresh host. Whatever goes wrong (boot, SSH, salt-ssh) becomes a
    "failed" verdict with the error as evidence, so one role can never cost the whole report.
    Once *stop* is set (the benchmark was interrupted) it starts no further run."""
    stop = stop or threading.Event()
    name = f"{_host_prefix()}{index}"
    result = RoleResult(role, name)
    summaries: list[StateSummary] = []
    mode = "boot"
    if stop.is_set():
        return result
    try:
        (host,) = lab.up(name, 1, release, progress, tie_to_parent=True)
        try:
            args = [f"pillar={json.dumps(pillar)}"] if pillar else []
            for mode in RUNS:
                if stop.is_set():
                    break
                progress.step(f"core.{role}: {mode}", host.name)
                run = apply_states([host.name], f"core.{role}", *args,
                                   *(["test=True"] if mode == "test" else []),
                                   roster=lab.roster_file(), config_dir=config_dir,
                                   timeout=RUN_TIMEOUT_SECONDS)
                summary = run.summaries[host.name]
                summaries.append(summary)
                result.runs.append(RunRecord(mode, round(run.duration_s, 2),
                                             summary.ok, summary.changed, summary.failed,
                                             summary.errors))
                result.problems += _problems(mode, summary)
                if mode == "apply" and not summary.success:
                    break  # a failed converge has no idempotence to prove
        finally:
            lab.down([host.name], progress)
    except (DsuError, OSError, subprocess.SubprocessError) as exc:
        evidence = exc.one_line() if isinstance(exc, DsuError) else f"{type(exc).__name__}: {exc}"
        result.problems.append(Problem(mode, "(lab or transport)", "", "", "failed",
                                       "environment_or_package", evidence[:2000]))
    result.verdict = verdict(summaries) if len(summaries) == len(RUNS) else "failed"
    progress.step(f"core.{role}: {'stopped: interrupted' if stop.is_set() else result.verdict}", name)
    return result


def _kill_salt_ssh_runs() -> None:
    """Kill this process's salt-ssh runs against the lab: the workers', which Python gives no
    interruption. salt_ssh starts each in a session of its own, so its process group is all of
    it. Stopping a host alone is not enough: salt-ssh then waits for its SSH connection to time
    out, minutes."""
    roster = f"--roster-file={lab.roster_file()}".encode()
    for children in Path("/proc/self/task").glob("*/children"):
        try:
            pids = children.read_text().split()
        except OSError:
            continue  # the thread ended meanwhile
        for pid in pids:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                if b"salt-ssh" in cmdline and roster in cmdline:
                    os.killpg(int(pid), signal.SIGKILL)
            except OSError:  # it ended meanwhile (ProcessLookupError is an OSError)
                continue


def _abandon(pool: ThreadPoolExecutor, futures: list[Future[RoleResult]], progress: Progress) -> None:
    """After an interruption, which Python raises in the main thread only: no role starts any
    more, and from here the running ones' salt-ssh runs are killed and their hosts stopped,
    since their workers may be waiting for a boot or a salt-ssh run for many minutes yet. The
    workers then return within seconds, starting nothing else once *stop* is set."""
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + ABANDON_SECONDS
    while True:
        # Again each round: a worker may have been starting salt-ssh or booting its host while
        # the last round ran.
        _kill_salt_ssh_runs()
        mine = [h.name for h in lab.registered() if h.name.startswith(_host_prefix())]
        if mine:
            with contextlib.suppress(DsuError):  # a worker stopped one itself meanwhile
                lab.down(mine, progress)
        running = [f for f in futures if not f.done()]
        if not running:
            return
        if time.monotonic() > deadline:
            progress.step(f"{len(running)} role(s) still running after {ABANDON_SECONDS}s")
            return
        wait(running, timeout=0.5)


def _config_with_root(extra_root: Path, work: Path) -> Path:
    """A copy of the repo's salt-ssh config whose file_roots also serve *extra_root* (fixtures)."""
    master = yaml.safe_load((REPO_ROOT / "etc/salt/master").read_text())
    master["file_roots"] = {"base": [str(REPO_ROOT / "salt"), str(extra_root.resolve())]}
    work.mkdir(parents=True, exist_ok=True)
    (work / "master").write_text(yaml.safe_dump(master))
    return work


def delta(current: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """What changed since *baseline*: roles fixed, regressed, added or dropped; time change."""
    before = {r["role"]: r["verdict"] for r in baseline["roles"]}
    now = {r["role"]: r["verdict"] for r in current["roles"]}
    both = sorted(set(before) & set(now))
    return {
        "baseline_run_id": baseline["run_id"],
        "baseline_headline": baseline["headline"],
        "fixed": [r for r in both if before[r] != "idempotent" and now[r] == "idempotent"],
        "regressed": [r for r in both if before[r] == "idempotent" and now[r] != "idempotent"],
        "only_in_baseline": sorted(set(before) - set(now)),
        "only_in_this_run": sorted(set(now) - set(before)),
        "time_change_s": round(current["duration_s"] - baseline["duration_s"], 2),
    }


def summarize(results: list[RoleResult], run_id: str, release: str, started: datetime,
              duration: float, baseline: dict[str, Any] | None) -> dict[str, Any]:
    counts = {v: sum(r.verdict == v for r in results)
              for v in ("idempotent", "not_idempotent", "failed")}
    summary = {
        "schema": SCHEMA,
        "run_id": run_id,
        "release": release,
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round(duration, 2),
        "headline": f"{counts['idempotent']}/{len(results)} idempotent",
        "totals": {"roles": len(results), **counts},
        "roles": [asdict(r) for r in results],
        "baseline": None,
    }
    if baseline is not None:
        summary["baseline"] = delta(summary, baseline)
    return summary


def markdown(summary: dict[str, Any]) -> str:
    lines = [f"# Idempotence: {summary['headline']}", "",
             f"Run `{summary['run_id']}` on Debian {summary['release']}, "
             f"{summary['duration_s']:.0f} s. Each role: converge, `test=True` rerun, re-apply, "
             "on a fresh lab host.", "",
             "| role | verdict | changes (apply / test / reapply) | seconds (apply / test / reapply) "
             "| clusters |", "| --- | --- | --- | --- | --- |"]
    for role in summary["roles"]:
        runs = {r["mode"]: r for r in role["runs"]}
        changes = " / ".join(str(runs[m]["changed"]) if m in runs else "-" for m in RUNS)
        seconds = " / ".join(f"{runs[m]['duration_s']:.1f}" if m in runs else "-" for m in RUNS)
        clusters = ", ".join(sorted({p["cluster"] for p in role["problems"]})) or "-"
        lines.append(f"| {role['role']} | {role['verdict']} | {changes} | {seconds} | {clusters} |")
    if summary["baseline"]:
        b = summary["baseline"]
        lines += ["", f"## Against baseline `{b['baseline_run_id']}` ({b['baseline_headline']})", "",
                  f"- fixed: {', '.join(b['fixed']) or 'none'}",
                  f"- regressed: {', '.join(b['regressed']) or 'none'}",
                  f"- only in baseline: {', '.join(b['only_in_baseline']) or 'none'}",
                  f"- only in this run: {', '.join(b['only_in_this_run']) or 'none'}",
                  f"- time change: {b['time_change_s']:+.1f} s"]
    problems = [(r["role"], p) for r in summary["roles"] for p in r["problems"]]
    if problems:
        lines += ["", "## Problems", ""]
        for role, p in sorted(problems, key=lambda rp: (rp[1]["kind"] != "failed", rp[0])):
            lines.append(f"- **{role}** {p['run']}: {p['kind']} `{p['id']}` ({p['function'] or '?'}, "
                         f"{p['cluster']}): {p['evidence'].splitlines()[0] if p['evidence'] else ''}")
    return "\n".join(lines) + "\n"


def load_baseline(path: Path) -> dict[str, Any]:
    candidate = path / "summary.json" if path.is_dir() else path
    try:
        data = json.loads(candidate.read_text())
    except (OSError, ValueError) as exc:  # ValueError: not JSON, or not even UTF-8 text
        raise DsuError(f"cannot read baseline {candidate}: {exc}",
                       "pass a run directory holding summary.json") from exc
    schema = data.get("schema") if isinstance(data, dict) else type(data).__name__
    if schema != SCHEMA:
        raise DsuError(f"{candidate} is not an idempotence summary ({schema!r})")
    return data


def benchmark(roles: list[str] | None, release: str = "bookworm", jobs: int = 1,
              out: Path | None = None, baseline: Path | None = None,
              pillar: dict[str, Any] | None = None, extra_root: Path | None = None) -> int:
    """Run the benchmark; write summary.json and summary.md; return 0 only if all are idempotent."""
    progress = Progress()
    known = core_roles()
    if extra_root is not None:
        known += [p.name for p in (extra_root / "core").iterdir() if (p / "init.sls").exists()]
    chosen = roles or core_roles()
    unknown = [r for r in chosen if r not in known]
    if unknown:
        raise DsuError(f"unknown role(s): {', '.join(unknown)}", f"choose from {', '.join(known)}")
    previous = load_baseline(baseline) if baseline else None
    started_at = datetime.now(UTC)
    evidence = run_dir("idempotence", out, started_at)
    config = None
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    futures: list[Future[RoleResult]] = []
    try:
        config = _config_with_root(extra_root, evidence / ".salt-config") if extra_root else None
        started = time.monotonic()
        try:
            for index, role in enumerate(chosen, start=1):
                futures.append(pool.submit(run_role, role, index, release, pillar, progress, config,
                                           stop))
            results = [future.result() for future in futures]
        except BaseException:
            stop.set()
            _abandon(pool, futures, progress)
            raise
        pool.shutdown()
        summary = summarize(results, evidence.name, release, started_at, time.monotonic() - started,
                            previous)
        write_json(evidence / "summary.json", summary)
        (evidence / "summary.md").write_text(markdown(summary))
    finally:
        if config:
            shutil.rmtree(config, ignore_errors=True)
        with contextlib.suppress(OSError):
            evidence.rmdir()  # only if empty: an interrupted run leaves no evidence
    print(f"{summary['headline']} in {summary['duration_s']:.0f}s; evidence: {evidence}")
    return 0 if summary["totals"]["idempotent"] == len(results) else 1


def _command(args: argparse.Namespace) -> int:
    return benchmark(args.roles, args.release, args.jobs, args.out, args.baseline, args.pillar,
                     args.extra_root)


def _fixture_root(text: str) -> Path:
    root = directory(text)
    if not (root / "core").is_dir():
        raise argparse.ArgumentTypeError(f"{text} has no core/ directory of roles")
    return root


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("idempotence", help="converge, test=True rerun and re-apply each "
                                 "role on a fresh lab host; exit 0 only if all are idempotent")
    parser.add_argument("--roles", type=name_list("role"),
                        help="comma-separated roles (default: all of core)")
    parser.add_argument("--release", choices=RELEASES, default="bookworm")
    parser.add_argument("--baseline", type=existing_path,
                        help="an earlier run directory (or its summary.json)")
    parser.add_argument("--out", type=output_directory,
                        help="artifact directory (default ci-artifacts/idempotence)")
    parser.add_argument("--jobs", type=integer(1, MAX_JOBS), default=2,
                        help=f"roles benchmarked at once (at most {MAX_JOBS})")
    parser.add_argument("--pillar", type=json_object, help="pillar overrides for every run, as a "
                        "JSON object")
    parser.add_argument("--extra-root", type=_fixture_root,
                        help=argparse.SUPPRESS)  # fixture roles for the tests
    parser.set_defaults(func=_command)
