"""Post-deploy smoke checks: from this machine, a deployed host must let its deploy user in on
its port and keep root out, sudo must work, critical units run, the firewall drop all but SSH,
the latest health run be green and the clock synchronised (docs/smoke.md).

``smoke()`` is the entry point for `dsu smoke` and for `dsu deploy`'s last step: every host at
once, each within ~30 s, one ``<out>/<host>.json`` each; ``report.write_summary`` adds the
markdown when the caller wants it.
"""

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dsu.errors import DsuError
from dsu.paths import REPO_ROOT, artifacts_dir
from dsu.progress import Progress
from dsu.saltconfig import absolute, read_master
from dsu.smoke.checks import DEFAULT_UNITS, RUN_ID, UNIT_NAME, HostResult, check_host
from dsu.smoke.report import write_host
from dsu.targets import Target

MAX_PARALLEL = 16

__all__ = ["DEFAULT_UNITS", "HostResult", "smoke"]


def health_base(config_dir: Path | None = None) -> Path:
    """Where this machine's health runs are: <DSU_ARTIFACTS_DIR>/health when that is set, else
    where the health_json returner files them, the master config's ``health_json.base``
    (relative to the checkout, as Salt reads it), else ci-artifacts/health."""
    if os.environ.get("DSU_ARTIFACTS_DIR"):
        return artifacts_dir() / "health"
    base = read_master(config_dir or REPO_ROOT / "etc" / "salt").get("health_json.base")
    return absolute(base) if isinstance(base, str) and base else artifacts_dir() / "health"


def smoke(targets: list[Target], *, health_run: str | None, out: Path, progress: Progress,
          units: Sequence[str] = DEFAULT_UNITS, run_id: str | None = None,
          config_dir: Path | None = None) -> dict[str, HostResult]:
    """Smoke-check *targets* in parallel; write ``<out>/<host>.json`` for each (run id: *run_id*,
    else the name of *out*). *health_run* picks the health run to judge, else each host's newest
    under ci-artifacts/health. Returns each host's verdict and checks, in *targets* order."""
    if health_run is not None and not RUN_ID.match(health_run):
        raise DsuError(f"health run id {health_run!r} is not a run directory name",
                       "a name like 20260101T000000Z")
    bad = [unit for unit in units if not UNIT_NAME.match(unit)]
    if bad:
        raise DsuError(f"not a systemd unit name: {', '.join(map(repr, bad))}")
    base = health_base(config_dir)

    def one(target: Target) -> HostResult:
        progress.step(f"smoke checks as {target.user}@{target.host} port {target.port}",
                      target.name)
        result = check_host(target, units, base, health_run)
        write_host(out, result, run_id or out.name)
        progress.step("smoke ok" if result.ok else f"smoke FAILED: {', '.join(result.failed)}",
                      target.name)
        return result

    if not targets:
        return {}
    with ThreadPoolExecutor(min(MAX_PARALLEL, len(targets))) as pool:
        results = list(pool.map(one, targets))
    return {result.host: result for result in results}
