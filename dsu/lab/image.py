"""The cached base image of a lab host: a debootstrap root built once per machine and package list."""

import hashlib
import shutil
import subprocess
import time
from pathlib import Path

from dsu.errors import DsuError
from dsu.lab import system
from dsu.lab.mirror import debian_mirror
from dsu.paths import cache_dir, locked
from dsu.progress import Progress

RELEASES = ("bookworm", "trixie")
# What a host needs before Salt reaches it: systemd as PID 1, SSH and a Python for salt-ssh;
# ifupdown for vps-like hosts, addressed in /etc/network/interfaces as providers' images are.
PACKAGES = ("systemd", "systemd-sysv", "dbus", "python3", "openssh-server", "iproute2", "ifupdown")
# Bump when the customisation below changes, so cached images are rebuilt.
LAYOUT_VERSION = "2"

# One image, two ways to bring up the network, chosen at boot by the host's seed: a seed with
# /etc/network/interfaces (vps-like hosts, vps.py) is run by ifupdown alone, as on a provider's
# Debian; any other by systemd-networkd alone, as before. A condition is read when the unit
# starts, and the seed is bind-mounted before systemd starts, so this needs no reload.
NETWORK_SWITCH = "/etc/dsu-lab/seed/etc/network/interfaces"
NETWORK_DROP_INS = {
    "networking.service": f"ConditionPathExists={NETWORK_SWITCH}",
    "systemd-networkd.service": f"ConditionPathExists=!{NETWORK_SWITCH}",
    # The socket too: skipping only the service would leave it re-triggering a skipped unit.
    "systemd-networkd.socket": f"ConditionPathExists=!{NETWORK_SWITCH}",
    "systemd-networkd-wait-online.service": f"ConditionPathExists=!{NETWORK_SWITCH}",
}

# Copies the per-host files dsu bind-mounts at /etc/dsu-lab/seed into place before the network and
# sshd start; after that they are ordinary files that states may manage like on any server.
SEED_UNIT = """\
[Unit]
Description=Seed this lab host with the settings dsu prepared for it
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target systemd-sysctl.service systemd-networkd.service networking.service ssh.service
ConditionPathIsDirectory=/etc/dsu-lab/seed

[Service]
Type=oneshot
ExecStart=/bin/cp -a /etc/dsu-lab/seed/. /

[Install]
WantedBy=sysinit.target
"""


def images_root() -> Path:
    return cache_dir() / "images"


def image_key(release: str, mirror: str) -> str:
    material = "\n".join([LAYOUT_VERSION, release, mirror, *PACKAGES])
    return f"{release}-{hashlib.sha256(material.encode()).hexdigest()[:12]}"


def _customise(rootfs: Path) -> None:
    # Every host gets its own hostname (-M) and a fresh machine-id at boot.
    (rootfs / "etc/hostname").unlink(missing_ok=True)
    (rootfs / "etc/machine-id").write_text("")
    (rootfs / "etc/systemd/system/dsu-lab-seed.service").write_text(SEED_UNIT)
    for unit, condition in NETWORK_DROP_INS.items():
        drop_in = rootfs / f"etc/systemd/system/{unit}.d/dsu-lab.conf"
        drop_in.parent.mkdir(parents=True, exist_ok=True)
        drop_in.write_text(f"# dsu lab: which hosts this unit runs on (dsu/lab/image.py).\n"
                           f"[Unit]\n{condition}\n")
    # networkd (or, on vps-like hosts, ifupdown) gives host0 the static address the seed unit put
    # in place.
    system.run(["chroot", str(rootfs), "systemctl", "enable", "systemd-networkd", "networking",
                "dsu-lab-seed.service"], "enabling lab units in the image")
    for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()


def ensure_image(release: str, progress: Progress | None = None) -> Path:
    """Return the rootfs of the cached image for *release*, building it if needed."""
    if release not in RELEASES:
        raise DsuError(f"unknown release {release!r}", f"use one of {', '.join(RELEASES)}")
    progress = progress or Progress()
    mirror = debian_mirror()
    key = image_key(release, mirror)
    target = images_root() / key
    with locked(images_root() / ".lock"):
        if (target / ".complete").exists():
            return target / "rootfs"
        system.require_root()
        system.require_tools("debootstrap")
        build = images_root() / f".build-{key}"
        shutil.rmtree(build, ignore_errors=True)
        build.mkdir(parents=True)
        debs = cache_dir() / "debootstrap-debs"
        debs.mkdir(parents=True, exist_ok=True)
        log = images_root() / f"{key}.build.log"
        progress.step(f"building {release} image with debootstrap (log: {log})")
        started = time.monotonic()
        argv = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                f"--cache-dir={debs}", release, str(build / "rootfs"), mirror]
        with open(log, "w") as out:
            rc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT).returncode
        if rc != 0:
            tail = log.read_text().strip().splitlines()[-1:] or ["no output"]
            shutil.rmtree(build, ignore_errors=True)
            raise DsuError(f"image build for {release} failed: {tail[0]}",
                           f"check that {mirror} is reachable; full log in {log}")
        _customise(build / "rootfs")
        shutil.rmtree(target, ignore_errors=True)
        build.rename(target)
        (target / ".complete").write_text(f"{release}\n{mirror}\n")
        progress.step(f"image {key} ready in {time.monotonic() - started:.0f}s")
        return target / "rootfs"
