"""`dsu bench`: measurements reported, never asserted.

- `health`: `health.check` on a real lab host with 100 checks, 20 of which point at endpoints that
  never answer; the claim measured: the run is bounded by the longest single timeout.
- `sops`: decrypting one SOPS file of 1,000 values and 50 files of 20 values, with ours and with
  the real sops binary."""

import json
import os
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dsu.deploy import utc_stamp
from dsu.errors import DsuError
from dsu.lab import hosts as lab
from dsu.lab.roster import roster_path
from dsu.paths import artifacts_dir
from dsu.progress import Progress
from dsu.saltrun import salt_ssh

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
                       f"checks={json.dumps(checks)}", roster=roster_path(lab.lab_dir()))
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
    publish(report, markdown(report), out, "health", progress)
    return 0 if report["bounded_by_one_timeout"] else 1


def publish(report: dict[str, Any], text: str, out: Path | None, bench: str,
            progress: Progress) -> None:
    """Write report.json and report.md into a new UTC-stamped run directory under *out* (default
    ci-artifacts/bench/<bench>); print the summary and where the evidence is."""
    run_dir = (out or artifacts_dir() / "bench" / bench) / utc_stamp()
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (run_dir / "report.md").write_text(text)
    print(text.rstrip())
    print(f"benchmark done in {progress.elapsed():.0f}s; evidence: {run_dir}")


SOPS_SCHEMA = "deploy-system-unified/bench-sops/v1"


def _timed(func: Any, repeats: int) -> float:
    """Median wall time of *repeats* calls, in milliseconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        func()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def _sops_layouts(lib: Any, work: Path, fingerprint: str, home: str) -> dict[str, list[Path]]:
    """The two layouts: one file of 1,000 values, 50 files of 20 values each."""
    layouts: dict[str, list[Path]] = {"1x1000": [], "50x20": []}
    for name, files, values in (("1x1000", 1, 1000), ("50x20", 50, 20)):
        for n in range(files):
            data = {"secrets": {"values": {f"key_{n}_{i}": f"value-{n}-{i}-" + "x" * 24
                                           for i in range(values)}}}
            path = work / f"{name}-{n}.yaml"
            path.write_text(lib.encrypt_data(data, "yaml", pgp=[fingerprint], gnupg_home=home))
            layouts[name].append(path)
    return layouts


def _compile_pillar(root: Path, files: list[Path], gnupg_home: str) -> dict[str, Any]:
    """Compile *files* as the whole pillar of one minion, in-process, with this repo's renderer
    pipeline: the render time a master or salt-ssh pays. Reads only."""
    import salt.config
    import salt.pillar

    from dsu.paths import REPO_ROOT

    if not root.exists():
        root.mkdir()
        for path in files:
            (root / f"{path.stem.replace('-', '_')}.sls").write_text(path.read_text())
        names = "".join(f"    - {p.stem.replace('-', '_')}\n" for p in files)
        (root / "top.sls").write_text(f"base:\n  '*':\n{names}")
    opts = salt.config.minion_config(None)
    opts.update(file_client="local", pillar_roots={"base": [str(root)]},
                cachedir=str(root / ".cache"), renderer="jinja|yaml|sops",
                render_dirs=[str(REPO_ROOT / "_renderers")],
                utils_dirs=[str(REPO_ROOT / "_utils")], sops_gnupghome=gnupg_home, id="bench",
                grains={"id": "bench"})
    pillar = salt.pillar.get_pillar(opts, opts["grains"], "bench", "base").compile_pillar()
    if pillar.get("_errors"):
        raise DsuError(f"the benchmark pillar did not compile: {pillar['_errors']}")
    return pillar


def sops_bench(work: Path, repeats: int = 3, progress: Progress | None = None) -> dict[str, Any]:
    """Decrypt the same SOPS files with ours (one data-key decryption per file) and with the
    real sops binary (when installed), in a throwaway GnuPG home under *work*."""
    from dsu.saltrun import salt_bin
    from dsu.secrets import sopsfile

    progress = progress or Progress()
    lib = sopsfile()
    home = work / "gnupg"
    home.mkdir(mode=0o700)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback",
           "--passphrase", ""]
    try:
        made = subprocess.run([*gpg, "--status-fd", "1", "--quick-gen-key", "dsu bench <bench@dsu>",
                               "future-default", "default", "never"], capture_output=True, text=True)
        fingerprint = next(line.split()[-1] for line in made.stdout.splitlines()
                           if "KEY_CREATED" in line)
        progress.step("writing SOPS files: 1 x 1000 values, 50 x 20 values")
        layouts = _sops_layouts(lib, work, fingerprint, str(home))
        try:
            sops = salt_bin("sops")
        except DsuError:
            sops = None
        env = {**os.environ, "GNUPGHOME": str(home)}
        results = {}
        for name, files in layouts.items():
            progress.step(f"{name}: decrypting with dsu (python)")
            ours = _timed(lambda files=files: [lib.decrypt_file(str(f), str(home)) for f in files],
                          repeats)
            real = None
            if sops:
                progress.step(f"{name}: decrypting with the sops binary")
                argv = [sops, "--disable-version-check", "-d"]
                real = _timed(lambda files=files, argv=argv: [subprocess.run(
                    [*argv, str(f)], env=env, check=True, capture_output=True) for f in files],
                    repeats)
            progress.step(f"{name}: compiling them as Salt pillar (jinja|yaml|sops)")
            root = work / f"pillar-{name}"
            pillar = _timed(lambda files=files, root=root: _compile_pillar(root, files, str(home)),
                            repeats)
            results[name] = {"files": len(files), "ours_ms": ours, "salt_pillar_ms": pillar,
                             "sops_binary_ms": real}
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True)
    return {"schema": SOPS_SCHEMA, "measured": datetime.now(UTC).isoformat(timespec="seconds"),
            "repeats": repeats, "layouts": results}


def sops_markdown(report: dict[str, Any]) -> str:
    lines = ["# SOPS decryption benchmark", "",
             "| layout | files | dsu (python) ms | Salt pillar compile ms | sops binary ms |",
             "| --- | --- | --- | --- | --- |"]
    for name, row in report["layouts"].items():
        real = row["sops_binary_ms"] if row["sops_binary_ms"] is not None else "n/a"
        lines.append(f"| {name} | {row['files']} | {row['ours_ms']} | {row['salt_pillar_ms']} "
                     f"| {real} |")
    return "\n".join(lines) + "\n"


def bench_sops(repeats: int, out: Path | None = None) -> int:
    import tempfile

    progress = Progress()
    with tempfile.TemporaryDirectory(prefix="dsu-bench-sops-") as tmp:
        report = sops_bench(Path(tmp), repeats, progress)
    publish(report, sops_markdown(report), out, "sops", progress)
    return 0
