"""Lab host lifecycle: boot, wait for SSH, list, stop, and leave nothing behind.

A host is `systemd-nspawn --boot` over a volatile overlay of the cached image: every write lands in
a tmpfs inside nspawn's own mount namespace, so when nspawn exits its mounts and changes are gone
and the image stays clean. Per-host settings (address, SSH key, apt proxy) are copied into place at
boot by the image's seed unit from a read-only bind mount, so afterwards they are ordinary files.
"""

import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from dsu.errors import DsuError
from dsu.lab import network, roster, system, vps
from dsu.lab.image import ensure_image
from dsu.paths import locked, replace_file, state_dir
from dsu.progress import Progress

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
SSH_WAIT_SECONDS = 90
STOP_WAIT_SECONDS = 20
PR_SET_PDEATHSIG = 1
# Host i gets address i of the lab subnet past its first ten (network.host_address).
HOST_INDEXES = range(1, 240)


@dataclass
class LabHost:
    name: str
    release: str
    index: int
    address: str
    pid: int
    started: float
    host_key: str
    # "" for a plain lab host; "vps" for one that looks like a freshly delivered VPS (vps.py).
    like: str = ""

    def alive(self) -> bool:
        try:
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return b"systemd-nspawn" in cmdline[0] and f"--machine={self.name}".encode() in cmdline


def lab_dir() -> Path:
    path = state_dir() / "lab"
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def roster_file() -> Path:
    """The salt-ssh roster of the running lab hosts."""
    return roster.roster_path(lab_dir())


def _registry() -> Path:
    path = lab_dir() / "hosts"
    path.mkdir(exist_ok=True)
    return path


def _register(host: LabHost) -> None:
    # Atomic: `dsu lab status` and other runs read the registry without the lab lock.
    replace_file(_registry() / f"{host.name}.json", json.dumps(asdict(host)), mode=0o644)


def registered() -> list[LabHost]:
    # Only the fields this version knows: an entry written by another dsu version still reads.
    known = set(LabHost.__dataclass_fields__)
    hosts = []
    for entry in sorted(_registry().glob("*.json")):
        try:
            data = json.loads(entry.read_text())
        except FileNotFoundError:
            continue  # stopped meanwhile: readers do not take the lab lock
        hosts.append(LabHost(**{k: v for k, v in data.items() if k in known}))
    return hosts


def capacity() -> int:
    """How many hosts the lab holds at once: host indexes whose address is inside the subnet,
    below its broadcast address."""
    return max(0, min(len(HOST_INDEXES), network.subnet().num_addresses - 12))


def host_names(name: str, count: int) -> list[str]:
    if not NAME_RE.match(name):
        raise DsuError(f"invalid lab host name {name!r}",
                       "use lowercase letters, digits and '-', starting with a letter, at most 31")
    if count < 1:
        raise DsuError("--count must be at least 1")
    return [name] if count == 1 else [f"{name}-{i}" for i in range(1, count + 1)]


def ssh_key() -> Path:
    key = lab_dir() / "id_ed25519"
    if not key.exists():
        system.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dsu-lab", "-f", str(key)],
                   "generating the lab SSH key")
    return key


def ssh_argv(host: LabHost, *command: str, connect_timeout: int = 5) -> list[str]:
    return ["ssh", "-i", str(ssh_key()), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
            "-o", f"ConnectTimeout={connect_timeout}",
            "-o", f"UserKnownHostsFile={roster.known_hosts_path(lab_dir())}",
            "-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR",
            f"root@{host.address}", *command]


def _seed(host: LabHost, password_login: bool = False) -> Path:
    """The files the image's seed unit copies to / at boot."""
    seed = lab_dir() / "run" / host.name / "seed"
    shutil.rmtree(seed.parent, ignore_errors=True)
    files = {
        "etc/apt/apt.conf.d/01dsu-lab-proxy": network.apt_proxy_conf(),
        "etc/hosts": f"127.0.0.1\tlocalhost\n127.0.1.1\t{host.name}\n::1\tlocalhost ip6-localhost\n",
        "root/.ssh/authorized_keys": Path(f"{ssh_key()}.pub").read_text(),
    }
    if host.like == "vps":
        files.update(vps.seed_files(host.address, network.subnet().prefixlen, network.gateway(),
                                    password_login))
    else:
        files.update({
            "etc/systemd/network/10-dsu-lab.network": (
                "# Written by dsu lab: this host's address on the lab bridge.\n"
                "[Match]\nName=host0\n\n[Network]\n"
                f"Address={host.address}/{network.subnet().prefixlen}\n"
                f"Gateway={network.gateway()}\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n"
            ),
            # Plain hosts use no DNS (packages come through the proxy): lookups fail at once.
            "etc/resolv.conf": "# dsu lab host: no DNS server is reachable\nnameserver 127.0.0.1\n",
        })
    for rel, text in files.items():
        path = seed / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    seed.chmod(0o755)
    (seed / "root").chmod(0o700)
    (seed / "root/.ssh").chmod(0o700)
    (seed / "root/.ssh/authorized_keys").chmod(0o600)
    return seed


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _boot(host: LabHost, rootfs: Path, tie_to_parent: bool, password_login: bool = False) -> int:
    seed = _seed(host, password_login)
    log = open(seed.parent / "console.log", "w")  # noqa: SIM115 - handed to the child
    argv = [
        "systemd-nspawn", "--quiet", f"--directory={rootfs}", "--boot", "--register=no",
        "--keep-unit", "--volatile=overlay", f"--machine={host.name}",
        f"--network-bridge={network.bridge_name()}", "--resolv-conf=off",
        "--timezone=off", f"--bind-ro={seed}:/etc/dsu-lab/seed",
    ]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True,
                            preexec_fn=_die_with_parent if tie_to_parent else None)
    return proc.pid


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _failed_unit(log: Path) -> str | None:
    """The first unit the host's systemd failed to start, from its console (None: none yet)."""
    if not log.exists():
        return None
    found = re.search(r"Failed to start (\S+)", ANSI.sub("", log.read_text(errors="replace")))
    return found.group(1) if found else None


def _wait_for_ssh(host: LabHost, deadline: float, abort: threading.Event | None = None) -> str | None:
    """None once SSH answers (or *abort* is set); the name of a unit that failed at boot, if that
    comes first."""
    log = lab_dir() / "run" / host.name / "console.log"
    while not (abort and abort.is_set()):
        if not host.alive():
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
            raise DsuError(f"lab host {host.name} stopped while booting: {' '.join(tail)}",
                           f"see {log}")
        unit = _failed_unit(log)
        if unit:
            return unit
        probe = subprocess.run(ssh_argv(host, "true", connect_timeout=2), capture_output=True)
        if probe.returncode == 0:
            return None
        if time.monotonic() > deadline:
            raise DsuError(f"lab host {host.name} did not answer SSH within {SSH_WAIT_SECONDS}s",
                           f"see its console in {log}")
        time.sleep(0.3)
    return None


def _wait_all(hosts: list[LabHost]) -> dict[str, str]:
    """Wait for every host's SSH; {host name: unit that failed at boot} for the others."""
    if not hosts:
        return {}
    deadline = time.monotonic() + SSH_WAIT_SECONDS
    abort = threading.Event()
    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        try:
            units = list(pool.map(lambda h: _wait_for_ssh(h, deadline, abort), hosts))
        except BaseException:
            # Interrupted: leaving the pool waits for every waiter, which would otherwise poll
            # until its host answers or SSH_WAIT_SECONDS pass before the hosts can be stopped.
            abort.set()
            raise
    return {h.name: u for h, u in zip(hosts, units, strict=True) if u}


def _describe(host: LabHost) -> str:
    return host.release + (f", {host.like}-like" if host.like else "")


def _set_root_password(host: LabHost, password: vps.Password) -> None:
    """On chpasswd's stdin over SSH: never in an argv (ps), a file or a log on this machine."""
    proc = subprocess.run(ssh_argv(host, "chpasswd"), input=vps.chpasswd_input(password),
                          capture_output=True)
    if proc.returncode != 0:
        last = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise DsuError(f"setting root's password on lab host {host.name} failed: {last[0]}")


def up(name: str, count: int = 1, release: str = "bookworm", progress: Progress | None = None,
       tie_to_parent: bool = False, like: str = "",
       root_password: vps.Password | None = None) -> list[LabHost]:
    """Boot *count* hosts (or reuse the ones already running under those names). *like* "vps":
    hosts as a VPS is delivered (vps.py), with root's password set to *root_password* if given;
    "" boots plain hosts but reuses running ones of either kind (`dsu deploy --lab NAME` on a
    vps-like NAME deploys to it)."""
    progress = progress or Progress()
    names = host_names(name, count)
    if like and like not in vps.LIKES:
        raise DsuError(f"unknown host kind {like!r}", f"use one of {', '.join(vps.LIKES)}")
    if root_password is not None and like != "vps":
        raise DsuError("a root password is for vps-like hosts only", "add --like vps")
    system.require_root()
    system.require_tools()
    rootfs = ensure_image(release, progress)
    hosts: list[LabHost] = []
    booted: list[LabHost] = []  # started by this call: stopped again if it fails or is interrupted
    try:
        with locked(lab_dir() / ".lock"):
            state = lab_dir()
            existing = {h.name: h for h in registered()}
            for stale in [h for h in existing.values() if not h.alive()]:
                _forget(stale)
                del existing[stale.name]
            network.ensure_bridge()
            network.ensure_proxy(state)
            used = {h.index for h in existing.values()}
            free = [i for i in HOST_INDEXES[:capacity()] if i not in used]
            host_key = (rootfs / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()[:2]
            host_key = " ".join(host_key)
            for host_name in names:
                if host_name in existing:
                    found = existing[host_name]
                    if found.release != release or (like and found.like != like):
                        raise DsuError(f"lab host {host_name} already runs {_describe(found)}",
                                       f"dsu lab down {host_name} first")
                    if root_password is not None:
                        raise DsuError(f"lab host {host_name} already runs; its root password is "
                                       "set when it boots", f"dsu lab down {host_name} first")
                    progress.step("already running", host_name)
                    hosts.append(existing[host_name])
                    continue
                if not free:
                    raise DsuError(f"the lab subnet {network.subnet()} holds {capacity()} hosts and "
                                   "all are in use", "dsu lab status, then dsu lab down what you no "
                                   "longer need")
                index = free.pop(0)
                host = LabHost(host_name, release, index, network.host_address(index), 0, time.time(),
                               host_key, like)
                host.pid = _boot(host, rootfs, tie_to_parent, root_password is not None)
                booted.append(host)  # before it is registered: an interruption in between stops it
                _register(host)
                progress.step(f"booting {_describe(host)} at {host.address}", host_name)
                hosts.append(host)
            roster.write(state, registered(), ssh_key())
        failed = _wait_all(booted)
        if failed:
            # Containers started by one process share nspawn's payload cgroup tree here, and
            # when several boot at once systemd now and then cannot attach a unit to its cgroup
            # (status 219/CGROUP); without its seed unit a host has no address. Boot it again.
            again = [h for h in booted if h.name in failed]
            for host in again:
                progress.step(f"{failed[host.name]} failed at boot; booting it again", host.name)
                _stop(host, forget=False)
                host.pid = _boot(host, rootfs, tie_to_parent, root_password is not None)
                _register(host)
            failed = _wait_all(again)
        if failed:
            name, unit = next(iter(failed.items()))
            raise DsuError(f"lab host {name} failed to start {unit} twice",
                           f"see its console in {lab_dir() / 'run' / name / 'console.log'}")
        if root_password is not None:
            for host in booted:
                _set_root_password(host, root_password)
                progress.step("root's password set; sshd takes it", host.name)
    except BaseException:
        for host in booted:
            _stop(host)
        # A failed or interrupted first boot must not leave the bridge and the proxy behind;
        # trouble with that is reported, not raised, so it never hides what led here.
        try:
            with locked(lab_dir() / ".lock"):
                _tidy(bool(booted))
        except DsuError as exc:
            progress.step(f"tidying the lab: {exc.one_line()}")
        raise
    for host in booted:
        progress.step("SSH answers", host.name)
    return hosts


def _kill_tree(pid: int) -> None:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    stack, tree = [pid], []
    while stack:
        current = stack.pop()
        tree.append(current)
        stack.extend(children.get(current, []))
    for member in reversed(tree):
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _container_init(nspawn_pid: int) -> int | None:
    """The host-side pid of the container's systemd: nspawn's only child."""
    try:
        children = Path(f"/proc/{nspawn_pid}/task/{nspawn_pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if len(children) == 1 else None


def _stop(host: LabHost, forget: bool = True) -> None:
    if host.alive():
        # Lab hosts are volatile: nothing to save, so skip stopping each service and ask systemd
        # for its immediate poweroff (SIGRTMIN+14: kill everything, unmount, exit), about a
        # second instead of five. Without a clear init pid, nspawn's SIGTERM is the orderly way.
        init = _container_init(host.pid)
        if init is not None:
            os.kill(init, signal.SIGRTMIN + 14)
        else:
            os.kill(host.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while host.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if host.alive():
            _kill_tree(host.pid)
            while host.alive():
                time.sleep(0.1)
    if forget:
        _forget(host)


def _forget(host: LabHost) -> None:
    shutil.rmtree(lab_dir() / "run" / host.name, ignore_errors=True)
    (_registry() / f"{host.name}.json").unlink(missing_ok=True)


def down(names: list[str] | None = None, progress: Progress | None = None) -> list[str]:
    """Stop the named hosts (all when *names* is None); the last one out removes bridge and proxy."""
    progress = progress or Progress()
    system.require_root()
    with locked(lab_dir() / ".lock"):
        hosts = registered()
        if names is not None:
            known = {h.name for h in hosts}
            unknown = [n for n in names if n not in known]
            if unknown:
                raise DsuError(f"no lab host named {', '.join(unknown)}", "see dsu lab status")
            hosts = [h for h in hosts if h.name in names]
        with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
            list(pool.map(_stop, hosts))
        for host in hosts:
            progress.step("stopped", host.name)
        _tidy(bool(hosts))
    return [h.name for h in hosts]


def _tidy(stopped: bool) -> None:
    """After hosts were stopped (the caller holds the lab lock): the roster lists the hosts left,
    and the last one out stops the proxy and removes the bridge."""
    remaining = registered()
    if not remaining:
        network.stop_proxy(lab_dir())
        network.remove_bridge()
    if remaining or stopped:
        roster.write(lab_dir(), remaining, ssh_key())


def status() -> list[dict[str, str]]:
    rows = []
    for host in registered():
        row = {"name": host.name, "release": host.release, "address": host.address,
               "pid": str(host.pid), "uptime": f"{time.time() - host.started:.0f}s",
               "like": host.like or "-"}
        if not host.alive():
            row.update(state="stopped", pid1="-")
        else:
            probe = subprocess.run(
                ssh_argv(host, "ps -p 1 -o comm=; systemctl is-system-running"),
                capture_output=True, text=True)
            lines = probe.stdout.split()
            row.update(pid1=lines[0] if lines else "?",
                       state=lines[1] if len(lines) > 1 else "unreachable")
        rows.append(row)
    return rows
