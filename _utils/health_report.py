"""
Health summaries (``deploy-system-unified/health-check/v1``) as files: find them in any job return,
write one host's summary into its run directory, and keep that run's ``summary.md`` current.

The one home of the format's facts (schema id, run id pattern, default directory) for the
``health`` module, the ``health.passing`` state and the ``health_json`` returner. Standard library
only, so tests and tools can import it by path as well as through Salt's loader.

Layout under a base directory::

    <base>/<run_id>/<host>.json     one summary per host, replaced atomically
    <base>/<run_id>/summary.md      regenerated from all of that run's summaries
    <base>/LATEST_RUN.txt           the run id written last
"""

import fcntl
import glob
import importlib.util
import json
import logging
import os
import re

log = logging.getLogger(__name__)

SCHEMA_ID = "deploy-system-unified/health-check/v1"
SCHEMA_VERSION = 1
# The same patterns as docs/schemas/health-check.v1.json (a unit test keeps them equal). Both
# values become path components, so anything else is refused before a path is built.
HOST_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}"
RUN_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
# Host-side evidence and run artifacts, unless configured otherwise (ops.health_check's
# parameters repeat it for the state tree; a unit test keeps them equal).
DEFAULT_DIR = "/var/lib/deploy-system/health"

_RANK = {"fail": 0, "warn": 1, "pass": 2, "skip": 3}
_OWNED_FILE = []


# Salt's loader gives other modules only the functions of a utils module (``__utils__``), so the
# constants above reach them through these.


def schema_fields():
    """The fields that open every summary: ``schema`` (the v1 id) and ``schema_version``."""
    return {"schema": SCHEMA_ID, "schema_version": SCHEMA_VERSION}


def is_run_id(value):
    """True when *value* is a valid run id (the schema's pattern: a plain directory name)."""
    return isinstance(value, str) and re.fullmatch(RUN_ID_PATTERN, value) is not None


def default_dir():
    """The default directory of host-side evidence and of run artifacts."""
    return DEFAULT_DIR


def is_summary(obj):
    """True when *obj* is a health summary (a dict carrying the v1 schema id)."""
    return isinstance(obj, dict) and obj.get("schema") == SCHEMA_ID


def find_summaries(data):
    """
    The health summaries inside a job return, whatever its shape: a ``health.check`` return (the
    summary itself), a state run (summaries under each state's extra key ``health``), a job
    payload ``{"return": …, "retcode": …}`` (salt-ssh's job cache nests it once more). Anything
    else, such as a list of render errors, holds none.
    """
    if is_summary(data):
        return [data]
    if not isinstance(data, dict):
        return []
    if "return" in data:
        return find_summaries(data["return"])
    return [ret["health"] for ret in data.values() if isinstance(ret, dict) and is_summary(ret.get("health"))]


def _checked(kind, value, pattern):
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise ValueError(f"{kind} {value!r} is not usable as a file name (must match {pattern})")
    return value


def run_dir_name(summary):
    """The summary's run_id, checked to be a plain directory name (ValueError otherwise)."""
    return _checked("run_id", summary.get("run_id"), RUN_ID_PATTERN)


def _atomic_write(path, text):
    # Reuse the mode-before-first-byte writer of owned_file (a sibling module here and wherever
    # Salt ships _utils); loaded by path since loader-loaded utils cannot import each other.
    if not _OWNED_FILE:
        here = os.path.dirname(os.path.abspath(__file__))
        spec = importlib.util.spec_from_file_location("dsu_owned_file", os.path.join(here, "owned_file.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _OWNED_FILE.append(module)
    _OWNED_FILE[0].write(path, text.encode("utf-8"), 0o644, os.geteuid(), os.getegid())
    return path


def _json_text(summary):
    return json.dumps(summary, indent=2) + "\n"


def write_host_copy(directory, summary):
    """Atomically write *summary* to ``<directory>/<host>.json``; return that path."""
    host = _checked("host", summary.get("host"), HOST_PATTERN)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    return _atomic_write(os.path.join(directory, f"{host}.json"), _json_text(summary))


def _run_summaries(run_dir):
    found = []
    for path in sorted(glob.glob(os.path.join(run_dir, "*.json"))):
        try:
            with open(path, encoding="utf-8") as handle:
                doc = json.load(handle)
        except (OSError, ValueError) as exc:
            log.warning("health report: skipping unreadable %s: %s", path, exc)
            continue
        if is_summary(doc):
            found.append(doc)
    return found


def write_run(base, summary):
    """
    Add one host's *summary* to its run under *base*: write ``<run_id>/<host>.json``, regenerate
    ``<run_id>/summary.md`` from every summary of the run, and point ``LATEST_RUN.txt`` at it.
    Concurrent writers of one run are serialised by an exclusive lock on ``<run_id>/.lock``, so
    summary.md always lists every host written. Returns the paths written.
    """
    run_id = run_dir_name(summary)
    _checked("host", summary.get("host"), HOST_PATTERN)
    run_dir = os.path.join(base, run_id)
    os.makedirs(run_dir, mode=0o755, exist_ok=True)
    lock = os.open(os.path.join(run_dir, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        written = [write_host_copy(run_dir, summary)]
        markdown = render_markdown(_run_summaries(run_dir))
        written.append(_atomic_write(os.path.join(run_dir, "summary.md"), markdown))
        written.append(_atomic_write(os.path.join(base, "LATEST_RUN.txt"), run_id + "\n"))
    finally:
        os.close(lock)  # releases the lock
    return written


def _status(summary):
    return summary.get("overall_status", "fail")


def _cell(value, limit=120):
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _host_line(summary):
    counts = summary.get("counts", {})
    line = (f"- **{summary['host']}**: {_status(summary).upper()} ({counts.get('pass', 0)} pass, "
            f"{counts.get('warn', 0)} warn, {counts.get('fail', 0)} fail, {counts.get('skip', 0)} skip)")
    failures = summary.get("mandatory_failures") or []
    return line + (f"; mandatory failures: {', '.join(failures)}" if failures else "")


def render_markdown(summaries):
    """
    A short human report of one run: a line per host (failing hosts first), a table of checks
    by host (checks with a failure or warning first), then each host's non-passing checks with
    what was observed and expected. The same summaries always give the same text.
    """
    hosts = sorted(summaries, key=lambda s: (_RANK.get(_status(s), 0), s["host"]))
    run_ids = sorted({str(s.get("run_id")) for s in hosts})
    lines = [f"# Health run {', '.join(run_ids) or '(none)'}", ""]
    lines += [_host_line(s) for s in hosts] or ["No host summaries."]
    cells = {s["host"]: {c["name"]: c["status"] for c in s.get("checks", [])} for s in hosts}
    names = sorted({name for by_name in cells.values() for name in by_name},
                   key=lambda n: (min(_RANK.get(c.get(n), 2) for c in cells.values()), n))
    if names:
        lines += ["", "| check | " + " | ".join(s["host"] for s in hosts) + " |",
                  "| --- |" + " --- |" * len(hosts)]
        for name in names:
            row = [cells[s["host"]].get(name, "–") for s in hosts]
            row = [f"**{cell}**" if cell in ("fail", "warn") else cell for cell in row]
            lines.append(f"| {_cell(name)} | " + " | ".join(row) + " |")
    for summary in hosts:
        bad = [c for c in summary.get("checks", []) if c.get("status") != "pass"]
        if not bad:
            continue
        lines += ["", f"## {summary['host']}", ""]
        for c in sorted(bad, key=lambda c: (_RANK.get(c.get("status"), 0), c["name"])):
            need = "mandatory" if c.get("mandatory") else "optional"
            message, observed, expected = (_cell(c.get(k)) for k in ("message", "observed", "expected"))
            lines.append(f"- **{_cell(c['name'])}** ({c.get('status')}, {need}): {message}"
                         f" — observed `{observed}`, expected `{expected}`")
    return "\n".join(lines) + "\n"
