"""Put Salt inside a lab host: for salt-call --local from a checkout, or a minion of a master.

Salt is no longer packaged by Debian, so the minion is installed the way the operator side is:
the pinned salt release in a venv, from a wheelhouse built once per machine (lab hosts have no
route to PyPI).
"""

import shlex
import subprocess
import sys
from pathlib import Path

from dsu.errors import DsuError
from dsu.lab import hosts as lab
from dsu.paths import cache_dir, locked

SALT_VERSION = "3008.3"
REMOTE_WHEELS = "/var/cache/dsu-wheels"
SALT_VENV = "/opt/salt"

UNIT = """\
[Unit]
Description=Salt minion (installed by dsu lab)
After=network-online.target

[Service]
ExecStart={venv}/bin/salt-minion -c /etc/salt
KillMode=process
Restart=on-failure

[Install]
WantedBy=multi-user.target
"""


def wheelhouse() -> Path:
    """Wheels of the pinned salt and its dependencies for this interpreter's ABI."""
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    path = cache_dir() / "wheels" / f"salt-{SALT_VERSION}-{tag}"
    marker = path / ".complete"
    with locked(path.parent / ".lock"):  # two lab users on a fresh machine build it once
        if not marker.exists():
            proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir",
                                   str(path), f"salt=={SALT_VERSION}"], capture_output=True,
                                  text=True)
            if proc.returncode != 0:
                raise DsuError(f"building the salt wheelhouse failed: {proc.stderr.strip()[-300:]}",
                               "check that PyPI is reachable from this machine")
            marker.write_text(SALT_VERSION)
    return path


def _ssh_script(host: lab.LabHost, script: str, what: str) -> None:
    proc = subprocess.run(lab.ssh_argv(host, "bash", "-s"), input=f"set -e\n{script}",
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise DsuError(f"{what} on {host.name} failed: {proc.stderr.strip()[-500:]}")


def install_salt(host: lab.LabHost) -> str:
    """Install the pinned salt into a venv on *host* (once); return the venv's bin directory."""
    wheels = wheelhouse()
    pack = subprocess.Popen(["tar", "-C", str(wheels), "-cf", "-", "."], stdout=subprocess.PIPE)
    unpack = subprocess.run(lab.ssh_argv(host, f"mkdir -p {REMOTE_WHEELS} && "
                                               f"tar -C {REMOTE_WHEELS} -xf -"),
                            stdin=pack.stdout, capture_output=True, text=True)
    pack.wait()
    if unpack.returncode != 0:
        raise DsuError(f"copying wheels to {host.name} failed: {unpack.stderr.strip()}")
    _ssh_script(host, f"""export DEBIAN_FRONTEND=noninteractive
dpkg -s python3-venv >/dev/null 2>&1 || apt-get install -y -q python3-venv >/dev/null
if [ ! -x {SALT_VENV}/bin/salt-call ]; then
  python3 -m venv {SALT_VENV}
  {SALT_VENV}/bin/pip install -q --no-index --find-links {REMOTE_WHEELS} salt=={SALT_VERSION}
fi
""", "installing salt")
    return f"{SALT_VENV}/bin"


def install_minion(host: lab.LabHost, master: str, ret_port: int, publish_port: int) -> None:
    """Install salt and (re)start a minion with id = host name, talking to *master*."""
    install_salt(host)
    config = (f"id: {host.name}\nmaster: {master}\nmaster_port: {ret_port}\n"
              f"publish_port: {publish_port}\n")
    _ssh_script(host, f"""mkdir -p /etc/salt/minion.d
printf %s {shlex.quote(config)} > /etc/salt/minion.d/dsu-master.conf
printf %s {shlex.quote(UNIT.format(venv=SALT_VENV))} > /etc/systemd/system/salt-minion.service
systemctl daemon-reload
systemctl enable -q salt-minion
systemctl restart salt-minion
""", "starting salt-minion")
