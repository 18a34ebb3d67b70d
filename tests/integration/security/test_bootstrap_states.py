"""security.bootstrap's Salt side on a VPS-like lab host, driven as the operator side will drive
it: the open phase as root on port 22 (sshd on 22 and 2222, deploy's key login and sudo work,
the firewall opens both, a re-apply changes nothing), an immediate revert that puts a fresh host
back, the close phase as deploy on 2222 through sudo (22 and root refused) then disarm and a
zero-change re-run, a bad sshd option refused with sshd's words and nothing changed, a drop-in
another file overrides refused with that file named, and a guard never disarmed putting the host
back as it was when armed.

One host for the module, tests in order (each starts from where the previous one left the
host). The lab key is the operator's key; port 2222 has the same host key as port 22."""

import json
import os
import subprocess
import time

import pytest

from dsu.lab import hosts as lab
from dsu.runs import summarize_states
from dsu.saltssh import salt_ssh
from tests.integration.conftest import booted_host, wait_for

RERUN = "security.access,security.firewall,security.ssh"
GUARD_DIR = "/var/lib/deploy-system/access-guard"
DROPIN = "/etc/ssh/sshd_config.d/10-dsu-access.conf"


class Operator:
    """The operator's side of one host: the lab roster (root@22), a roster for deploy@2222 with
    sudo, ssh as either, and the pillar of each phase."""

    def __init__(self, host, workdir):
        self.host, self.key = host, lab.ssh_key()
        self.pub = self.key.with_name(self.key.name + ".pub").read_text().strip()
        self.known_hosts = workdir / "known_hosts"
        self.known_hosts.write_text(f"{host.address} {host.host_key}\n"
                                    f"[{host.address}]:2222 {host.host_key}\n")
        self.root_roster = lab.roster_file()
        self.deploy_roster = workdir / "roster"
        self.deploy_roster.write_text(json.dumps({host.name: {
            "host": host.address, "port": 2222, "user": "deploy", "sudo": True,
            "priv": str(self.key), "ssh_options": [f"UserKnownHostsFile={self.known_hosts}",
                                                   "StrictHostKeyChecking=yes"]}}))

    def pillar(self, ports, root_login, guard=None, **ssh):
        security = {"access": {"user": "deploy", "authorized_keys": [self.pub]},
                    "ssh": {"ports": ports, "permit_root_login": root_login, **ssh}}
        if guard is not None:
            security["bootstrap"] = {"guard_seconds": guard}
        return {"security": security}

    def apply(self, roster, sls, pillar, *extra):
        run = salt_ssh([self.host.name], "state.apply", sls, *extra,
                       f"pillar={json.dumps(pillar)}", roster=roster)
        ret = run.returns.get(self.host.name, run.stderr)
        states = {s["__id__"]: s for s in ret.values()} if isinstance(ret, dict) else {}
        return summarize_states(ret), states

    def call(self, roster, fun):
        run = salt_ssh([self.host.name], fun, roster=roster)
        return run.returns.get(self.host.name, run.stderr)

    def ssh(self, user, port, command):
        return subprocess.run(
            ["ssh", "-i", str(self.key), "-p", str(port), "-o", "BatchMode=yes",
             "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=3", "-o", "LogLevel=ERROR",
             "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes",
             f"{user}@{self.host.address}", command],
            capture_output=True, text=True, timeout=60)

    def root(self, command, via_deploy=False):
        """A command as root on the host: ssh as root on 22, or as deploy on 2222 with sudo."""
        proc = (self.ssh("deploy", 2222, f"sudo -n sh -c {json.dumps(command)}") if via_deploy
                else self.ssh("root", 22, command))
        assert proc.returncode == 0, f"{command!r}: {proc.stderr}"
        return proc.stdout

    def listening(self, via_deploy=False):
        out = self.root("ss -Hltn", via_deploy)
        return {int(line.split()[3].rsplit(":", 1)[1]) for line in out.splitlines()}


def assert_applied(summary, what):
    assert summary.success, f"{what}: {summary.errors} {[(p.id, p.comment) for p in summary.failed_states]}"


def assert_no_changes(summary, what):
    assert_applied(summary, what)
    assert summary.changed == 0, f"{what} changed: {[(p.id, p.comment) for p in summary.changed_states]}"


@pytest.fixture(scope="module")
def host():
    with booted_host(f"sb{os.getpid()}", like="vps") as booted:
        yield booted


@pytest.fixture(scope="module")
def op(host, tmp_path_factory):
    return Operator(host, tmp_path_factory.mktemp("operator"))


def test_open_phase_adds_port_2222_and_deploy_and_is_idempotent(op):
    summary, states = op.apply(op.root_roster, "security.bootstrap", op.pillar([22, 2222], None, 300))
    assert_applied(summary, "open phase")
    assert states["security-bootstrap-guard-armed"]["changes"]["armed"]["seconds"] == 300
    assert op.listening() == {22, 2222}
    proof = op.ssh("deploy", 2222, "sudo -n true")
    assert proof.returncode == 0, proof.stderr
    ruleset = op.root("nft list ruleset")
    assert "policy drop" in ruleset and "tcp dport { 22, 2222 } ct state new accept" in ruleset
    assert op.call(op.root_roster, "access_guard.status")["armed"] is True
    # the re-run path, without the guard: nothing to do
    assert_no_changes(op.apply(op.root_roster, RERUN, op.pillar([22, 2222], None))[0], "re-run")


def test_revert_now_puts_a_fresh_host_back(op):
    reverted = op.call(op.root_roster, "access_guard.revert")
    assert isinstance(reverted, dict) and reverted["reverted"] is True, reverted
    assert op.root(f"ls {DROPIN} /etc/nftables.conf 2>&1 || true").count("No such file") == 2
    # nftables was not even installed when the guard was armed
    assert op.root("nft list ruleset") == ""
    assert op.root("systemctl is-active nftables || true").strip() == "inactive"
    assert op.root("systemctl is-enabled nftables || true").strip() == "disabled"
    assert op.listening() == {22}
    assert op.ssh("deploy", 2222, "true").returncode == 255
    status = op.call(op.root_roster, "access_guard.status")
    assert status["armed"] is False and status["last_revert"]["result"] == "reverted"


def test_close_phase_leaves_deploy_on_2222_alone(op):
    assert_applied(op.apply(op.root_roster, "security.bootstrap", op.pillar([22, 2222], None, 300))[0],
                   "open phase")
    assert op.ssh("deploy", 2222, "sudo -n true").returncode == 0
    close = op.pillar([2222], "no", 300)
    summary, states = op.apply(op.deploy_roster, "security.bootstrap", close)
    assert_applied(summary, "close phase as deploy with sudo")
    assert states["security-ssh-dropin-managed"]["changes"]["reloaded"] == "ssh"

    proof = op.ssh("deploy", 2222, "sudo -n true")
    assert proof.returncode == 0, proof.stderr
    root_2222 = op.ssh("root", 2222, "true")
    assert root_2222.returncode == 255 and "Permission denied" in root_2222.stderr
    root_22 = op.ssh("root", 22, "true")
    assert root_22.returncode == 255 and "timed out" in root_22.stderr  # dropped, not answered
    assert op.listening(via_deploy=True) == {2222}
    assert "permitrootlogin no" in op.root("sshd -T", via_deploy=True)

    assert op.call(op.deploy_roster, "access_guard.disarm") == {
        "disarmed": True, "timer": "stopped", "snapshot": "removed"}
    # the re-run path, without the guard: nothing to do, and test=True says so too
    rerun = op.pillar([2222], "no")
    assert_no_changes(op.apply(op.deploy_roster, RERUN, rerun, "test=True")[0], "test=True re-run")
    assert_no_changes(op.apply(op.deploy_roster, RERUN, rerun)[0], "re-run")


def test_a_bad_sshd_option_is_refused_and_changes_nothing(op):
    before = op.root(f"sha256sum {DROPIN} /etc/nftables.conf", via_deploy=True)
    bad = op.pillar([2222], "no", settings={"Ciphers": "no-such-cipher"})
    summary, states = op.apply(op.deploy_roster, RERUN, bad)
    assert not summary.success
    comment = states["security-ssh-dropin-managed"]["comment"]
    assert "sshd -t refuses" in comment and "Bad SSH2 cipher spec 'no-such-cipher'" in comment
    assert "previous file restored" in comment
    # the firewall waits for sshd: it was not touched either
    assert states["security-firewall-ruleset-file"]["result"] is False
    assert op.root(f"sha256sum {DROPIN} /etc/nftables.conf", via_deploy=True) == before
    assert "no-such-cipher" not in op.root("sshd -T", via_deploy=True)
    proof = op.ssh("deploy", 2222, "sudo -n true")  # a new login: sshd serves the old config
    assert proof.returncode == 0, proof.stderr
    assert op.listening(via_deploy=True) == {2222}


def test_a_drop_in_another_file_overrides_is_refused_and_named(op):
    before = op.root(f"sha256sum {DROPIN}", via_deploy=True)
    other = "/etc/ssh/sshd_config.d/05-other.conf"  # read first, so its value wins
    op.root(f"echo 'PermitRootLogin yes' > {other}", via_deploy=True)
    try:
        summary, states = op.apply(op.deploy_roster, "security.ssh",
                                   op.pillar([2222], "no", settings={"MaxAuthTries": 4}))
    finally:
        op.root(f"rm -f {other}", via_deploy=True)
    assert not summary.success
    comment = states["security-ssh-dropin-managed"]["comment"]
    assert "PermitRootLogin in force is yes, not no: another file wins" in comment, comment
    assert f"set in {other}" in comment and "previous file restored" in comment
    assert op.root(f"sha256sum {DROPIN}", via_deploy=True) == before


def test_a_guard_never_disarmed_puts_the_host_back(op):
    # back to a host that listens on 22 alone, behind the firewall, root logging in with its key
    assert_applied(op.apply(op.deploy_roster, RERUN, op.pillar([22], None))[0], "back to 22")

    def state():
        return {"ruleset": op.root("nft list ruleset"), "dropin": op.root(f"cat {DROPIN}"),
                "conf": op.root("cat /etc/nftables.conf"),
                "nftables": op.root("systemctl is-enabled nftables; systemctl is-active nftables"),
                "listening": op.listening()}

    before = state()
    assert before["listening"] == {22} and "tcp dport 22 ct state new accept" in before["ruleset"]

    guard = 20
    summary, states = op.apply(op.root_roster, "security.bootstrap",
                               op.pillar([22, 2222], None, guard))
    assert_applied(summary, "open phase with a short guard")
    assert op.ssh("deploy", 2222, "sudo -n true").returncode == 0
    # (the lab hosts share this machine's clock)
    fires_at = states["security-bootstrap-guard-armed"]["changes"]["armed"]["fires_at"]
    assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) < fires_at, \
        "the open phase was proven after the guard fired: raise guard"

    def fired():
        out = op.ssh("root", 22, f"systemctl is-active dsu-access-revert.timer; ls {GUARD_DIR}").stdout
        return out.startswith("inactive") and "snapshot.json" not in out

    wait_for("the access guard to fire", fired, lambda: op.root("systemctl list-timers --all"),
             timeout=guard + 40)
    assert state() == before
    assert op.ssh("deploy", 2222, "true").returncode == 255
    journal = op.root("journalctl -u dsu-access-revert.service --no-pager -o cat")
    assert "dsu-access-revert: reloaded ssh.service" in journal and "dsu-access-revert: done" in journal
    assert op.call(op.root_roster, "access_guard.status")["last_revert"]["result"] == "reverted"
