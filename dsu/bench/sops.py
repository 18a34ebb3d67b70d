"""`dsu bench sops`: decrypting one SOPS file of 1,000 values and 50 files of 20 values, with
ours, as a Salt pillar compile, and with the real sops binary. Reported, never asserted."""

import os
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dsu.errors import DsuError
from dsu.evidence import publish, run_dir
from dsu.paths import REPO_ROOT
from dsu.progress import Progress
from dsu.saltssh import salt_bin
from dsu.secrets import sopsfile

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
    import salt.config  # noqa: PLC0415 - Salt's loaders only for this measurement
    import salt.pillar  # noqa: PLC0415

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
    progress = Progress()
    with tempfile.TemporaryDirectory(prefix="dsu-bench-sops-") as tmp:
        report = sops_bench(Path(tmp), repeats, progress)
    publish(report, sops_markdown(report), run_dir("bench/sops", out), progress.elapsed())
    return 0
