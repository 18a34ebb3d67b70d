"""`dsu bench health`: `health.check` on a real lab host with 100 checks, 20 of which point at
endpoints that never answer; the claim measured: the run is bounded by the longest single
timeout. Reported, never asserted."""

import json
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dsu.errors import DsuError
from dsu.evidence import publish, run_dir
from dsu.lab import hosts as lab
from dsu.progress import Progress
from dsu.saltssh import salt_ssh

SCHEMA = "deploy-system-unified/bench-health/v1"
WEB_PORT, SILENT_PORT = 8080, 8098
# On the lab bridge, never assigned to a host: SYNs to it go nowhere.
BLACKHOLE = "10.248.0.254"

# A web server and a port that accepts connections (the kernel's backlog does) and never
# answers a byte, as transient units; shared with the health integration tests.
SERVERS = f"""set -e
mkdir -p /srv/www && echo dsu-health-ok > /srv/www/index.html
# http.server's listen backlog of 5 would drop the SYNs of a burst of concurrent probes.
systemctl is-active -q dsu-web || systemd-run -q --unit=dsu-web --working-directory=/srv/www \\
  python3 -c 'import http.server as h; h.ThreadingHTTPServer.request_queue_size = 128
h.ThreadingHTTPServer(("127.0.0.1", {WEB_PORT}), h.SimpleHTTPRequestHandler).serve_forever()'
systemctl is-active -q dsu-silent || systemd-run -q --unit=dsu-silent python3 -c \\
  'import socket, time; s = socket.socket(); s.bind(("127.0.0.1", {SILENT_PORT}))
s.listen(128); time.sleep(10**6)'
up=no
for i in $(seq 50); do
  if python3 -c 'import socket; socket.create_connection(("127.0.0.1", {WEB_PORT}), 1)' \\
    2>/dev/null; then up=yes; break; fi
  sleep 0.2
done
[ $up = yes ] || {{ echo "the web server on port {WEB_PORT} did not start" >&2; exit 1; }}
"""
RUNNING_SERVICES = "systemctl list-units --type=service --state=running --plain --no-legend"


def plan(units: list[str], total: int = 100, dead: int = 20, timeout_s: float = 1.0) -> dict[str, Any]:
    """The health_check configuration of the benchmark: *dead* endpoints that never answer (half
    a silent HTTP listener, half a black-holed address), the rest live units, disks and
    endpoints, *total* checks in all."""
    live = total - dead
    disks = {path: {"warn": 99, "critical": 100} for path in ("/", "/usr", "/var", "/etc", "/tmp")}
    unit_share = min(len(units), live // 4)
    checks: dict[str, Any] = {
        "use_defaults": False, "timeout_s": timeout_s,
        "units": {u: {} for u in units[:unit_share]},
        "disks": disks,
        "endpoints": {},
    }
    endpoints = checks["endpoints"]
    remaining = live - unit_share - 2 * len(disks)
    for i in range(remaining):
        endpoints[f"live-{i}"] = ({"url": f"http://127.0.0.1:{WEB_PORT}/"} if i % 2 else
                                  {"tcp": "127.0.0.1:22"})
    for i in range(dead):
        endpoints[f"dead-{i}"] = ({"url": f"http://127.0.0.1:{SILENT_PORT}/{i}"} if i % 2 else
                                  {"tcp": f"{BLACKHOLE}:{9000 + i}"})
    return checks


def _measure(host: lab.LabHost, checks: dict[str, Any], repeats: int,
             progress: Progress, label: str) -> dict[str, Any]:
    walls, inner, summary = [], [], {}
    for n in range(repeats):
        progress.step(f"{label}: health.check run {n + 1}/{repeats}", host.name)
        started = time.monotonic()
        run = salt_ssh([host.name], "health.check", f"run_id=bench-{label}",
                       f"checks={json.dumps(checks)}", roster=lab.roster_file())
        walls.append(time.monotonic() - started)
        summary = run.returns.get(host.name)
        if not isinstance(summary, dict) or "counts" not in summary:
            raise DsuError(f"health.check gave no summary on {host.name}: {str(summary)[:300]}",
                           "run `salt-ssh <host> health.check` by hand to see why")
        inner.append(summary["duration_ms"])
    slowest = max(c["duration_ms"] for c in summary["checks"]) if summary["checks"] else 0
    return {"checks": summary["counts"]["total"], "counts": summary["counts"],
            "module_ms": {"median": statistics.median(inner), "max": max(inner)},
            "salt_ssh_wall_s": {"median": round(statistics.median(walls), 2),
                                "max": round(max(walls), 2)},
            "slowest_check_ms": slowest}


def health_bench(host: lab.LabHost, repeats: int = 3, timeout_s: float = 1.0,
                 progress: Progress | None = None) -> dict[str, Any]:
    """Measure health.check on *host*: the full 100-check plan, and its 80 live checks alone
    (the per-check overhead). Returns the report (schema bench-health/v1)."""
    progress = progress or Progress()
    progress.step("starting a web server and a silent listener", host.name)
    setup = subprocess.run(lab.ssh_argv(host, f"{SERVERS}\n{RUNNING_SERVICES}"),
                           capture_output=True, text=True)
    if setup.returncode != 0:
        raise DsuError(f"benchmark setup failed on {host.name}: {setup.stderr.strip()[-300:]}")
    units = sorted(w for w in setup.stdout.split() if w.endswith(".service"))
    full = plan(units, timeout_s=timeout_s)
    live_only = {**full, "endpoints": {k: v for k, v in full["endpoints"].items()
                                       if not k.startswith("dead-")}}
    with_dead = _measure(host, full, repeats, progress, "full")
    live = _measure(host, live_only, repeats, progress, "live")
    dead = len(full["endpoints"]) - len(live_only["endpoints"])
    return {
        "schema": SCHEMA,
        "host": host.name,
        "release": host.release,
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        "repeats": repeats,
        "timeout_s": timeout_s,
        "dead_endpoints": dead,
        "sum_of_dead_timeouts_s": dead * timeout_s,
        "full": with_dead,
        "live_only": live,
        "overhead_per_check_ms": round(live["module_ms"]["median"] / max(1, live["checks"]), 2),
        "bounded_by_one_timeout": with_dead["module_ms"]["max"] < (timeout_s + 1.0) * 1000,
    }


def markdown(report: dict[str, Any]) -> str:
    full, live = report["full"], report["live_only"]
    return "\n".join([
        f"# health.check benchmark on {report['host']} ({report['release']})", "",
        f"- {full['checks']} checks, {report['dead_endpoints']} endpoints that never answer "
        f"(timeout {report['timeout_s']:g} s each, {report['sum_of_dead_timeouts_s']:g} s if summed)",
        f"- module time, median of {report['repeats']}: {full['module_ms']['median']:.0f} ms "
        f"(max {full['module_ms']['max']:.0f} ms); salt-ssh wall {full['salt_ssh_wall_s']['median']} s",
        f"- the {live['checks']} live checks alone: {live['module_ms']['median']:.0f} ms, "
        f"{report['overhead_per_check_ms']} ms per check",
        f"- bounded by one timeout: {'yes' if report['bounded_by_one_timeout'] else 'NO'}", ""])


def bench_health(repeats: int, timeout_s: float, out: Path | None = None) -> int:
    """Boot a fresh lab host, measure, write report.json + report.md, remove the host."""
    progress = Progress()
    name = "bench-health"
    (host,) = lab.up(name, 1, progress=progress)
    try:
        report = health_bench(host, repeats, timeout_s, progress)
    finally:
        lab.down([name], progress)
    publish(report, markdown(report), run_dir("bench/health", out), progress.elapsed())
    return 0 if report["bounded_by_one_timeout"] else 1
