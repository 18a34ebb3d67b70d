"""Where a decrypted secret could be left behind by a run, searched: a lab host's whole filesystem
(every file created or changed since a stamp, compressed ones looked into, salt-ssh's state bundles
by name, the journal) and directories on the operator's side."""

import shutil
import subprocess
from pathlib import Path

import salt.utils.yaml

from dsu.lab import hosts as lab
from dsu.secrets import sopsfile
from dsu.secrets.files import gpg_encrypt_value
from tests.support.sopskeys import REPO, TEST_KEY_FP

# The host's filesystems a run can write to: the root and the in-memory ones (nspawn mounts /tmp,
# /run and /dev/shm apart), each searched without crossing into others (/proc, /sys).
HOST_TREES = "/ /tmp /var/tmp /run /dev/shm"


def stamp(host, path: str = "/run/dsu-leak-stamp") -> str:
    """Mark the time on *host*: host_leaks() looks at what was written after it."""
    _ssh(host, f"touch {path}")
    return path


def _ssh(host, command: str) -> str:
    proc = subprocess.run(lab.ssh_argv(host, command), capture_output=True, text=True)
    assert proc.returncode == 0, f"{command!r} on {host.name}: {proc.stderr}"
    return proc.stdout


def host_leaks(host, needles: list[str], since: str) -> list[str]:
    """Where on *host* any of *needles* is (files created or changed after the stamp *since*,
    gzip files by their contents too) and every salt-ssh state bundle (salt_state.tgz)."""
    grep = " ".join(f"-e {needle}" for needle in needles)
    # ctime: extracting a tarball may set a file's mtime back, never its ctime
    written = f"find {HOST_TREES} -xdev -type f -cnewer {since}"
    script = (f"{written} -print0 2>/dev/null | xargs -0 -r grep -l -a -F {grep} 2>/dev/null; "
              f"{written} \\( -name '*.gz' -o -name '*.tgz' \\) -print0 2>/dev/null "
              f"| xargs -0 -r zgrep -l -a -F {grep} 2>/dev/null; "
              f"find {HOST_TREES} -xdev -name salt_state.tgz 2>/dev/null; "
              f"echo journal: $(journalctl --no-pager -o verbose | grep -c -F {grep}); true")
    found = sorted(set(_ssh(host, script).split("\n")) - {""})
    return [line for line in found if line != "journal: 0"]


def operator_leaks(needles: list[str], *trees: Path) -> list[str]:
    """The files under *trees* (those that exist) holding any of *needles*, and salt-ssh's temp
    files (the state bundle before it is sent) wherever they are."""
    trees = tuple(str(tree) for tree in trees if Path(tree).exists())
    if not trees:
        return []
    hits = subprocess.run(["grep", "-r", "-a", "-l", "-F", *[f"-e{n}" for n in needles], *trees],
                          capture_output=True, text=True).stdout.split()
    bundles = [str(p) for tree in trees for p in Path(tree).rglob("__salt.tmp.*")]
    return sorted(set(hits + bundles))


def canary_config(root: Path, home: Path, canaries: dict[str, str],
                  states: dict[str, str] | None = None) -> Path:
    """A salt-ssh config of its own under *root* (caches, debug-level log, health artifacts there)
    over a copy of the repo's pillar with one GPG and one SOPS secrets file (provider dual), which
    carry *canaries* {"gpg": value, "sops": value} as secrets:values:gpg_canary and sops_canary,
    encrypted to the test key in the GnuPG home *home* (gpg_keydir). *states* (path: text) are
    served beside the repo's state tree. Returns the config dir."""
    pillar, extra = root / "pillar", root / "states"
    shutil.copytree(REPO / "pillar", pillar)
    armored = gpg_encrypt_value(canaries["gpg"].encode(), [TEST_KEY_FP], str(home))
    block = "\n".join("        " + line for line in armored.strip().splitlines())
    _write(pillar / "secrets/gpg/common.sls",
           f"#!yaml|gpg\nsecrets:\n  values:\n    gpg_canary: |\n{block}\n")
    _write(pillar / "secrets/sops/common.sls", sopsfile().encrypt_data(
        {"secrets": {"values": {"sops_canary": canaries["sops"]}}}, "yaml", pgp=[TEST_KEY_FP],
        gnupg_home=str(home)))
    _write(pillar / "secrets/provider.yaml",
           "provider: dual\ntargets:\n  '*':\n    gpg: [secrets.gpg.common]\n"
           "    sops: [secrets.sops.common]\nrequired: [gpg_canary, sops_canary]\n")
    for path, text in (states or {}).items():
        _write(extra / path, text)
    config = salt.utils.yaml.safe_load((REPO / "etc/salt/master").read_text())
    config.update(root_dir=str(root / "salt-root"), pillar_roots={"base": [str(pillar)]},
                  file_roots={"base": [str(REPO / "salt"), str(extra)]}, gpg_keydir=str(home),
                  log_level_logfile="debug", log_file=str(root / "salt-root/master.log"),
                  **{"health_json.base": str(root / "artifacts")})
    _write(root / "etc/master", salt.utils.yaml.safe_dump(config))
    return root / "etc"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
