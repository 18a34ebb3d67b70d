"""`dsu bench highstate` and `dsu bench fleet`: how long deploying takes, measured on fresh lab
hosts, reported and never asserted.

- highstate: the full highstate on a fresh host against a plain `apt-get install` of the same
  packages on another fresh host of the same image (target: at most 1.15 times as long), then the
  `test=True` idempotence proof and a real re-apply (target: a few seconds each).
- fleet: the highstate on N fresh hosts at once against one fresh host (target for 8: at most
  2.5 times as long).

Both sides fetch packages through the lab's caching proxy; the baseline warms it first (an
untimed download-only pass whose files are then deleted), so no side pays for the network.
"""

import os
import resource
import shlex
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dsu.errors import DsuError
from dsu.evidence import publish, run_dir
from dsu.lab import hosts as lab
from dsu.progress import Progress
from dsu.runs import StateSummary, apply_states
from dsu.saltssh import salt_ssh

HIGHSTATE_SCHEMA = "deploy-system-unified/bench-highstate/v1"
FLEET_SCHEMA = "deploy-system-unified/bench-fleet/v1"
HIGHSTATE_TARGET, FLEET_TARGET = 1.15, 2.5
APT = "DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Options::=--force-confold"


def _ssh(host: lab.LabHost, command: str, what: str) -> float:
    """Run *command* on *host*; its wall time in seconds. A failure is an error naming *what*."""
    started = time.monotonic()
    proc = subprocess.run(lab.ssh_argv(host, command), capture_output=True, text=True)
    if proc.returncode != 0:
        raise DsuError(f"{what} failed on {host.name}: {proc.stderr.strip()[-300:]}")
    return time.monotonic() - started


def _operator_cpu() -> float:
    """CPU seconds of this process's finished children: salt-ssh and its ssh processes. The lab
    hosts are children too, but still running, so their CPU is not in it."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _apply(hosts: list[lab.LabHost], *args: str,
           wipe: bool = False) -> tuple[float, dict[str, StateSummary], float]:
    """One salt-ssh highstate run on *hosts* at once: (wall seconds, summary per host, operator
    CPU seconds)."""
    cpu = _operator_cpu()
    run = apply_states([h.name for h in hosts], *args, roster=lab.roster_file(), wipe=wipe)
    took, cpu, summaries = run.duration_s, _operator_cpu() - cpu, run.summaries
    broken = {n: s for n, s in summaries.items() if not s.success}
    if broken:
        name, summary = next(iter(broken.items()))
        why = summary.errors[:1] or [f"{p.id}: {p.comment}" for p in summary.failed_states[:1]]
        raise DsuError(f"the highstate failed on {', '.join(broken)}: {str(why[0])[:300]}",
                       "run dsu deploy against a lab host to see the whole run")
    return took, summaries, cpu


def highstate_packages(host: lab.LabHost) -> list[str]:
    """The packages the highstate installs on *host*: every pkg.installed's pkgs/name in its
    lowstate (rendered, nothing applied)."""
    run = salt_ssh([host.name], "state.show_lowstate", roster=lab.roster_file())
    chunks = run.returns.get(host.name)
    if not isinstance(chunks, list) or not all(isinstance(c, dict) for c in chunks):
        raise DsuError(f"cannot render the highstate on {host.name}: {str(chunks)[:300]}")
    packages: set[str] = set()
    for chunk in chunks:
        if chunk.get("state") == "pkg" and chunk.get("fun") == "installed":
            for item in chunk.get("pkgs") or [chunk["name"]]:
                packages.update(item if isinstance(item, dict) else [item])
    return sorted(packages)


def _warm_proxy(host: lab.LabHost, packages: list[str], progress: Progress) -> None:
    """Download every package once through the proxy, untimed, and drop the host's own copies."""
    progress.step(f"warming the package proxy: {len(packages)} packages, download only", host.name)
    names = " ".join(shlex.quote(p) for p in packages)
    _ssh(host, f"{APT} update && {APT} install --download-only {names} && apt-get clean",
         "the download-only warm-up")


def highstate_bench(release: str, progress: Progress) -> dict[str, Any]:
    hosts = lab.up("bench-hs", 2, release, progress, tie_to_parent=True)
    try:
        baseline, target = hosts
        progress.step("rendering the highstate to list its packages", target.name)
        packages = highstate_packages(target)
        _warm_proxy(baseline, packages, progress)
        progress.step("timed: apt-get update && apt-get install (the baseline)", baseline.name)
        names = " ".join(shlex.quote(p) for p in packages)
        apt_s = _ssh(baseline, f"{APT} update && {APT} install {names}", "apt-get install")
        progress.step(f"baseline {apt_s:.1f}s; timed: highstate on a fresh host", target.name)
        apply_s, first, _ = _apply([target])
        progress.step(f"highstate {apply_s:.1f}s; timed: test=True rerun", target.name)
        test_s, check, _ = _apply([target], "test=True")
        progress.step(f"test=True {test_s:.1f}s; timed: re-apply", target.name)
        again_s, again, _ = _apply([target], wipe=True)
    finally:
        lab.down([h.name for h in hosts], progress)
    return _report(HIGHSTATE_SCHEMA, release, apply_s / apt_s, HIGHSTATE_TARGET,
                   packages=len(packages), apt_install_s=round(apt_s, 2),
                   highstate={"duration_s": round(apply_s, 2),
                              "states": _count(first[target.name]),
                              "changed": first[target.name].changed},
                   test_rerun={"duration_s": round(test_s, 2),
                               "changed": check[target.name].changed},
                   reapply={"duration_s": round(again_s, 2),
                            "changed": again[target.name].changed})


def _report(schema: str, release: str, ratio: float, target: float,
            **measured: Any) -> dict[str, Any]:
    return {"schema": schema, "release": release,
            "measured": datetime.now(UTC).isoformat(timespec="seconds"), **measured,
            "ratio": round(ratio, 3), "target_ratio": target, "within_target": ratio <= target}


def _count(summary: StateSummary) -> int:
    return summary.ok + summary.changed + summary.failed


def highstate_markdown(report: dict[str, Any]) -> str:
    hs = report["highstate"]
    return "\n".join([
        f"# Highstate benchmark (Debian {report['release']}, fresh lab hosts)", "",
        f"- plain apt-get update + install of the same {report['packages']} packages: "
        f"{report['apt_install_s']:.1f} s",
        f"- full highstate ({hs['states']} states, {hs['changed']} changed): {hs['duration_s']:.1f} s"
        f" = {report['ratio']:.2f} x apt (target {report['target_ratio']}: "
        f"{'met' if report['within_target'] else 'NOT met'})",
        f"- idempotence proof, test=True rerun: {report['test_rerun']['duration_s']:.1f} s, "
        f"{report['test_rerun']['changed']} would change",
        f"- real re-apply: {report['reapply']['duration_s']:.1f} s, "
        f"{report['reapply']['changed']} changed", ""])


def fleet_bench(count: int, release: str, progress: Progress) -> dict[str, Any]:
    """Hosts: one to warm the proxy, one timed alone, then *count* timed at once; all fresh."""
    hosts = lab.up("bench-fleet", count + 2, release, progress, tie_to_parent=True)
    try:
        warm, single, fleet = hosts[0], hosts[1], hosts[2:]
        _warm_proxy(warm, highstate_packages(warm), progress)
        progress.step("timed: highstate on one fresh host", single.name)
        single_s, _, single_cpu = _apply([single], wipe=True)
        progress.step(f"one host {single_s:.1f}s; timed: highstate on {count} fresh hosts at once")
        fleet_s, summaries, fleet_cpu = _apply(fleet, wipe=True)
    finally:
        lab.down([h.name for h in hosts], progress)
    return _report(FLEET_SCHEMA, release, fleet_s / single_s, FLEET_TARGET, hosts=count,
                   one_host_s=round(single_s, 2), fleet_s=round(fleet_s, 2),
                   operator_cpu_s={"one_host": round(single_cpu, 2), "fleet": round(fleet_cpu, 2)},
                   cores=os.cpu_count() or 1,
                   states_per_host=sorted({_count(s) for s in summaries.values()}))


def fleet_markdown(report: dict[str, Any]) -> str:
    cpu = report["operator_cpu_s"]
    return "\n".join([
        f"# Fleet benchmark (Debian {report['release']}, fresh lab hosts)", "",
        f"- highstate on one host: {report['one_host_s']:.1f} s",
        f"- highstate on {report['hosts']} hosts at once: {report['fleet_s']:.1f} s = "
        f"{report['ratio']:.2f} x one (target {report['target_ratio']}: "
        f"{'met' if report['within_target'] else 'NOT met'})",
        f"- the operator's side (salt-ssh and ssh): {cpu['one_host']:.1f} CPU s for one host, "
        f"{cpu['fleet']:.1f} CPU s for {report['hosts']}",
        f"- in the lab all {report['hosts'] + 2} hosts share this machine's {report['cores']} "
        "cores, so the fleet run also waits for every host's own package installs on them; "
        "separate servers each bring their own CPU", ""])


def bench_highstate(release: str, out: Path | None = None) -> int:
    """Measure, write report.json + report.md; 0 unless a run failed (targets are reported)."""
    progress = Progress()
    report = highstate_bench(release, progress)
    publish(report, highstate_markdown(report), run_dir("bench/highstate", out), progress.elapsed())
    return 0


def bench_fleet(count: int, release: str, out: Path | None = None) -> int:
    if count < 2:
        raise DsuError(f"--count must be at least 2, not {count}")
    progress = Progress()
    report = fleet_bench(count, release, progress)
    publish(report, fleet_markdown(report), run_dir("bench/fleet", out), progress.elapsed())
    return 0
