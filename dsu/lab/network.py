"""The lab's own network: one bridge on the machine, a /24 of private addresses, and the process
serving the package proxy, DNS and time on the bridge address.

Each host sits in its own network namespace (systemd-nspawn --network-bridge), so firewall rules and
net.* sysctls applied by states stay inside that host, while hosts can still reach one another.
"""

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from dsu.errors import DsuError
from dsu.lab import system
from dsu.paths import REPO_ROOT, cache_dir


def bridge_name() -> str:
    return os.environ.get("DSU_LAB_BRIDGE", "dsu0")


def subnet() -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(os.environ.get("DSU_LAB_SUBNET", "10.248.0.0/24"))


def gateway() -> str:
    """The machine's address on the bridge: where the proxy listens."""
    return str(next(subnet().hosts()))


def host_address(index: int) -> str:
    return str(subnet().network_address + 10 + index)


def proxy_port() -> int:
    return int(os.environ.get("DSU_LAB_PROXY_PORT", "3142"))


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def ensure_bridge() -> None:
    name, gw = bridge_name(), f"{gateway()}/{subnet().prefixlen}"
    if _link_exists(name):
        return
    taken = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True).stdout
    if any(f" {gateway()}/" in line for line in taken.splitlines()):
        raise DsuError(f"{gateway()} is already used on this machine",
                       "set DSU_LAB_SUBNET to a free private /24")
    system.run(["ip", "link", "add", name, "type", "bridge"], f"creating bridge {name}")
    system.run(["ip", "addr", "add", gw, "dev", name], f"addressing bridge {name}")
    system.run(["ip", "link", "set", name, "up"], f"bringing up bridge {name}")


def remove_bridge() -> None:
    if _link_exists(bridge_name()):
        system.run(["ip", "link", "del", bridge_name()], f"removing bridge {bridge_name()}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _error_in(log: Path, offset: int) -> str:
    """The `dsu: error:` line the services process wrote to *log* past *offset*, if any."""
    try:
        with open(log, "rb") as handle:
            handle.seek(offset)
            lines = handle.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    errors = [line.removeprefix("dsu: error: ") for line in lines if line.startswith("dsu: error:")]
    return f": {errors[-1]}" if errors else ""


def ensure_proxy(state: Path) -> None:
    """Start the lab's services on the bridge address (package proxy, DNS, NTP: one process,
    services.py) unless ours already run."""
    pidfile = state / "proxy.pid"
    if pidfile.exists() and _pid_alive(int(pidfile.read_text())):
        return
    if _port_open(gateway(), proxy_port()):
        raise DsuError(f"port {proxy_port()} on {gateway()} is in use by another program",
                       "stop it, or set DSU_LAB_PROXY_PORT to a free port")
    logfile = state / "proxy.log"
    log = open(logfile, "a")  # noqa: SIM115 - handed to the child
    offset = log.tell()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dsu", "lab", "proxy", "--address", gateway(),
         "--port", str(proxy_port()), "--cache", str(cache_dir() / "apt-proxy")],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        cwd=REPO_ROOT,
    )
    log.close()
    pidfile.write_text(str(proc.pid))
    deadline = time.monotonic() + 10
    # The proxy's port is bound last (services.py): when it answers, DNS and NTP listen too.
    while not _port_open(gateway(), proxy_port()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise DsuError(f"the lab's package proxy, DNS and time servers did not start"
                           f"{_error_in(logfile, offset)}", f"see {logfile}")
        time.sleep(0.1)


def stop_proxy(state: Path) -> None:
    pidfile = state / "proxy.pid"
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text())
    if _pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            if not _pid_alive(pid):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)


def apt_proxy_conf() -> str:
    return (
        "// Written by dsu lab: lab hosts reach the package mirror only through this proxy.\n"
        f'Acquire::http::Proxy "http://{gateway()}:{proxy_port()}";\n'
        "// The machine's mirror may serve a frozen snapshot; its Release dates are old on purpose.\n"
        'Acquire::Check-Valid-Until "false";\n'
        'Acquire::Check-Date "false";\n'
        "// Ten hosts installing at once on two cores can leave a connection unanswered for a while.\n"
        'Acquire::Retries "3";\n'
    )
