"""A lab host that looks like a freshly delivered VPS (`dsu lab up --like vps`), and the lab's own
DNS and time servers on the gateway.

One module host, booted with a root password: its interface has MTU 1450, rp_filter is strict
inside it (and only there), addressing comes from /etc/network/interfaces, /etc/resolv.conf is a
regular file naming the gateway, names resolve through the lab's DNS, apt works, chrony with
Debian's own pool configuration synchronises from the lab's time server, and root logs in with
the password, which is in no file of dsu's state and in no command line. In a lab of its own:
the same through the command line, and after SIGTERM or `dsu lab down` nothing listens on the
gateway's DNS and NTP ports and nothing else is left."""

import os
import secrets
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from dsu.errors import DsuError
from dsu.lab import hosts as lab
from dsu.lab import network, vps
from dsu.lab.roster import known_hosts_path
from dsu.paths import state_dir
from tests.integration.conftest import booted_host, on_host
from tests.integration.test_cli_signals import Command

PASSWORD = secrets.token_urlsafe(18)


class ArgvWatch:
    """Every command line on the machine (lab hosts' processes included: their pids are visible
    here), read every 20 ms while it runs; *hits* are those holding *secret*."""

    def __init__(self, secret: str):
        self.secret, self.hits, self.scans = secret.encode(), [], 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for path in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    argv = path.read_bytes()
                except OSError:
                    continue
                if self.secret in argv:
                    program = argv.split(b"\0")[0]
                    self.hits.append(f"pid {path.parent.name}: {program!r}")
            self.scans += 1
            self._stop.wait(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)


def _machine_rp_filter():
    return Path("/proc/sys/net/ipv4/conf/all/rp_filter").read_text().strip()


@pytest.fixture(scope="module")
def watch():
    with ArgvWatch(PASSWORD) as watching:
        yield watching


@pytest.fixture(scope="module")
def machine_rp_filter():
    return _machine_rp_filter()


@pytest.fixture(scope="module")
def host(watch, machine_rp_filter):
    with booted_host(f"v{os.getpid()}", like="vps", root_password=vps.Password(PASSWORD)) as booted:
        yield booted


def test_the_interface_is_a_vps_ones_and_its_sysctls_stay_inside(host, machine_rp_filter):
    assert on_host(host, "cat /sys/class/net/host0/mtu").strip() == "1450"
    for scope in ("all", "default"):
        assert on_host(host, f"sysctl -n net.ipv4.conf.{scope}.rp_filter").strip() == "1"
    assert _machine_rp_filter() == machine_rp_filter  # the machine's own network is untouched
    # ifupdown brought it up from /etc/network/interfaces; networkd stayed out of it.
    assert on_host(host, "ifquery --state host0").strip() == "host0=host0"
    assert f"address {host.address}/" in on_host(host, "cat /etc/network/interfaces")
    assert on_host(host, "systemctl is-active systemd-networkd || true").strip() == "inactive"
    assert f"inet {host.address}/" in on_host(host, "ip -4 -o addr show host0")
    assert f"default via {network.gateway()} dev host0" in on_host(host, "ip -4 route")
    assert on_host(host, "systemctl is-system-running --wait || true").strip() == "running"


def test_resolv_conf_is_a_static_regular_file_naming_the_lab_dns(host):
    assert on_host(host, "stat -c %F /etc/resolv.conf").strip() == "regular file"
    lines = on_host(host, "cat /etc/resolv.conf").splitlines()
    assert [line.split()[1] for line in lines if line.startswith("nameserver")] == [network.gateway()]
    assert network.gateway() == "10.248.0.1"  # the default lab subnet


def test_names_resolve_through_the_lab_dns(host):
    for name in ("deb.debian.org", "security.debian.org", "2.debian.pool.ntp.org", "proxy.lab"):
        assert on_host(host, f"getent hosts {name}").split()[0] == network.gateway(), name
    assert on_host(host, f"getent hosts {host.name}.lab").split()[0] == host.address
    # A name outside the lab: NXDOMAIN at once, not a timeout.
    started = time.monotonic()
    missing = subprocess.run(lab.ssh_argv(host, "getent hosts www.example.com"), capture_output=True)
    assert missing.returncode == 2 and time.monotonic() - started < 5


def test_apt_update_works(host):
    on_host(host, "apt-get update -q >/dev/null")


def test_chrony_synchronises_from_the_pool_names(host):
    on_host(host, "DEBIAN_FRONTEND=noninteractive apt-get install -y -q chrony >/dev/null")
    # Debian's configuration as installed: the pool names only.
    assert "pool 2.debian.pool.ntp.org iburst" in on_host(host, "cat /etc/chrony/chrony.conf")
    # As core.time does in a container: chronyd must start without CAP_SYS_TIME and must not
    # set the clock (-x); it still measures and selects its sources.
    on_host(host, "mkdir -p /etc/systemd/system/chrony.service.d && "
                  "printf '[Unit]\\nConditionCapability=\\n' > "
                  "/etc/systemd/system/chrony.service.d/lab.conf && "
                  "echo 'DAEMON_OPTS=\"-F 1 -x\"' > /etc/default/chrony && "
                  "systemctl daemon-reload && systemctl restart chrony")
    deadline, tracking = time.monotonic() + 60, ""
    while time.monotonic() < deadline:
        tracking = on_host(host, "chronyc -n tracking")
        if f"({network.gateway()})" in tracking and "Leap status     : Normal" in tracking:
            break
        time.sleep(1)
    sources = on_host(host, "chronyc -n sources")
    assert f"({network.gateway()})" in tracking and "Normal" in tracking, f"{tracking}\n{sources}"
    assert "Stratum         : 3" in tracking  # the lab's server says 2
    selected = [line for line in sources.splitlines() if line.startswith("^*")]
    assert selected and network.gateway() in selected[0], sources


def _password_ssh(host, password, *command):
    """ssh as root by password only (no key offered): OpenSSH reads it from SSH_ASKPASS, a
    script printing a file, so it is in no command line either."""
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"askpass-{os.getpid()}-{secrets.token_hex(4)}"
    folder.mkdir(mode=0o700)
    try:
        (folder / "password").write_text(password)
        (folder / "password").chmod(0o600)
        askpass = folder / "askpass"
        askpass.write_text(f"#!/bin/sh\nexec cat {folder / 'password'}\n")
        askpass.chmod(0o700)
        env = {**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"}
        return subprocess.run(
            ["ssh", "-o", "BatchMode=no", "-o", "PubkeyAuthentication=no",
             "-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1",
             "-o", f"UserKnownHostsFile={known_hosts_path(lab.lab_dir())}",
             "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR",
             f"root@{host.address}", *command],
            env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
            start_new_session=True)
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


def test_root_logs_in_with_the_password(host):
    good = _password_ssh(host, PASSWORD, "id -un")
    assert good.returncode == 0 and good.stdout.strip() == "root", good.stderr
    bad = _password_ssh(host, PASSWORD + "x", "id -un")
    assert bad.returncode == 255 and "Permission denied" in bad.stderr


def test_the_password_is_in_no_file_and_no_command_line(host, watch):
    found = []
    for path in state_dir().rglob("*"):
        try:
            if path.is_file() and not path.is_symlink() and PASSWORD.encode() in path.read_bytes():
                found.append(str(path))
        except OSError:
            continue
    assert found == []
    assert watch.scans > 10 and watch.hits == []
    # On the host it is only a hash in /etc/shadow.
    shadow = on_host(host, "getent shadow root").split(":")[1]
    assert shadow.startswith("$") and PASSWORD not in shadow


def test_it_is_reused_by_name_but_not_given_a_new_password(host):
    # `dsu deploy --lab NAME` asks for NAME with no kind: the running vps-like host is it.
    (again,) = lab.up(host.name, tie_to_parent=True)
    assert (again.like, again.pid) == ("vps", host.pid)
    with pytest.raises(DsuError, match="its root password is set when it boots"):
        lab.up(host.name, like="vps", root_password=vps.Password(PASSWORD + "new"))
    assert [h.pid for h in lab.registered() if h.name == host.name] == [host.pid]


# --- a lab of its own: the command line, and what is left after SIGTERM and down -------------


def _listening(address):
    """(protocol, port) of every socket listening on *address*."""
    found = set()
    for proto, flag in (("udp", "-Hlnu"), ("tcp", "-Hlnt")):
        out = subprocess.run(["ss", flag], capture_output=True, text=True).stdout
        for line in out.splitlines():
            local = line.split()[3]
            if local.rsplit(":", 1)[0] == address:
                found.add((proto, int(local.rsplit(":", 1)[1])))
    return found


def _leftovers(env, machines):
    gateway = env["DSU_LAB_SUBNET"].rsplit(".", 1)[0] + ".1"
    state = Path(env["DSU_STATE_DIR"]) / "lab"
    found = [f"listening: {p}" for p in sorted(_listening(gateway))]
    nspawn = subprocess.run(["pgrep", "-af", "systemd-nspawn"], capture_output=True, text=True)
    found += [f"nspawn: {line}" for line in nspawn.stdout.splitlines() if f"--machine={machines}" in line]
    services = subprocess.run(["pgrep", "-af", "dsu lab proxy"], capture_output=True, text=True)
    found += [f"process: {line}" for line in services.stdout.splitlines() if gateway in line]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.splitlines()
    found += [f"link: {line[:60]}" for line in links
              if f" {env['DSU_LAB_BRIDGE']}:" in line or f" vb-{machines}" in line]
    found += [f"state: {p.name}" for p in [*state.glob("hosts/*"), *state.glob("run/*"),
                                           *state.glob("proxy.pid")]]
    return found


def _nothing_left(env, machines):
    deadline = time.monotonic() + 10
    while (found := _leftovers(env, machines)) and time.monotonic() < deadline:
        time.sleep(0.3)
    return found


def _ask(server, name):
    """rcode and first IPv4 address of an A query to *server* port 53."""
    packet = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    packet += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0\0\x01\0\x01"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(packet, (server, 53))
        answer = sock.recv(512)
    answers = struct.unpack_from("!H", answer, 6)[0]
    return answer[3] & 0xF, socket.inet_ntoa(answer[-4:]) if answers else None


def test_command_line_and_nothing_left_after_sigterm_or_down(isolated_lab, tmp_path):
    env = {**os.environ, **isolated_lab.env}
    gateway = env["DSU_LAB_SUBNET"].rsplit(".", 1)[0] + ".1"
    password_file = tmp_path / "root-password"
    password_file.write_text(PASSWORD + "\n")
    password_file.chmod(0o600)

    # SIGTERM while the first host boots: the services go with the bridge.
    interrupted = Command(env, "lab", "up", "sig", "--like", "vps", "--root-password-file",
                          str(password_file))
    interrupted.wait_for("booting bookworm, vps-like")
    assert {("udp", 53), ("tcp", 53), ("udp", 123), ("tcp", network.proxy_port())} <= \
        _listening(gateway)
    code, _ = interrupted.terminate()
    assert code == 128 + signal.SIGTERM
    assert _nothing_left(env, "sig") == []

    with ArgvWatch(PASSWORD) as watching:
        up = isolated_lab("lab", "up", "cli", "--like", "vps", "--root-password-file",
                          str(password_file))
    assert watching.hits == [] and PASSWORD not in up.stdout + up.stderr
    status = isolated_lab("lab", "status").stdout.splitlines()
    assert status[0].split()[-1] == "LIKE" and status[1].split()[-1] == "vps", status
    address = up.stdout.split()[1]
    assert _ask(gateway, "cli.lab") == (0, address)
    assert _ask(gateway, "deb.debian.org") == (0, gateway)
    assert _ask(gateway, "www.example.com") == (3, None)
    roster = (Path(env["DSU_STATE_DIR"]) / "lab" / "roster").read_text()
    assert "# cli: vps-like" in roster and PASSWORD not in roster

    down = isolated_lab("lab", "down", "--all")
    assert "stopped 1 host(s)" in down.stdout
    assert _nothing_left(env, "cli") == []
