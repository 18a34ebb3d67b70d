"""`dsu preflight` end to end against a real Debian 12 lab host: the CLI as a subprocess, pointed at
temporary pillar trees (--pillar-root) and a Salt config whose gpg_keydir holds the test key
(--config-dir), salt-ssh to the host with the lab's roster.

- a broken setup (tampered, undecryptable and plaintext SOPS files, an undecryptable and a malformed
  GPG file, a listed file that does not exist, a plaintext password in plain pillar, a 0755 key
  directory, required secrets missing from the host's pillar, an unknown deploy:profile) exits 1
  listing every problem, and no secret value is printed;
- a host whose pillar cannot compile (a tampered SOPS file targeted at it) exits 1 saying so;
- a clean setup exits 0;
- and the host is unchanged by all of it: nothing under /etc, /var, /srv, /usr, /opt, /root, /home
  or /boot is newer than a stamp taken before, the package list and the mount table are the same.
  Two things are expected to change and are left out: salt-ssh's own thin directory
  (/var/tmp/.root_<hash>_salt, which every salt-ssh call updates, and preflight's run removes,
  and so /var/tmp itself) and the systemd journal (every SSH login is logged);
- each preflight, passed or refused, leaves no secret behind: none of the pillar's canaries in any
  file written on the host (salt-ssh's state bundle carries the whole compiled pillar there) nor
  in salt-ssh's temp directory or caches here, and no gpg-agent it started (in the key directory
  its checks and salt-ssh's pillar compile decrypt with) is left running.
"""

import subprocess

from tests.conftest import REPO
from tests.support import hostsnapshot
from tests.support.dsucli import run_dsu
from tests.support.leaks import host_leaks, operator_leaks, stamp
from tests.support.preflighttree import CANARIES, PLAINTEXT, operator_env, write_tree
from tests.support.sopskeys import stop_gpg_agent

SECRETS = [*CANARIES.values(), PLAINTEXT]


def _assert_unchanged(host, before):
    hostsnapshot.assert_unchanged(host, before, "preflight")


def _agents(home):
    """The gpg-agents serving *home* (GnuPG starts them with --homedir, whoever asks)."""
    return subprocess.run(["pgrep", "-f", f"gpg-agent --homedir {home}( |$)"], capture_output=True,
                          text=True).stdout.split()


def _dsu_preflight(host, tree, tmp_path):
    temp = tmp_path / "tmp"  # salt-ssh's temp files on this side: the state bundles before sending
    temp.mkdir()
    env = operator_env(tree, temp, XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    stop_gpg_agent(tree.keys.path)  # started by the key import: let preflight start its own
    agents = _agents(tree.keys.path)
    since = stamp(host)
    proc = run_dsu("preflight", host.name, "--config-dir", str(tree.config), "--pillar-root",
                   str(tree.pillar), env=env)
    for secret in SECRETS:
        assert secret not in proc.stdout + proc.stderr, "a secret value was printed"
    assert _agents(tree.keys.path) == agents, "preflight left the gpg-agent it started running"
    leaks = [f"lab host: {p}" for p in host_leaks(host, SECRETS, since)]
    leaks += [f"operator side: {p}" for p in operator_leaks(SECRETS, temp, REPO / ".salt-root")]
    assert leaks == [], f"preflight left a secret behind: {leaks}"
    return proc


def test_broken_setup_reports_every_problem_and_changes_nothing(host, keys, before, tmp_path):
    tree = write_tree(tmp_path, keys, host.name, broken=True)
    proc = _dsu_preflight(host, tree, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    for where, what in tree.local:
        assert [line for line in lines if line.split(": ", 1)[0].endswith(where) and what in line], \
            (where, what, proc.stdout)
    for what in tree.target:
        assert [line for line in lines if line.startswith(f"{host.name}: {what}")], (what, proc.stdout)
    total = len(tree.local) + len(tree.target)
    assert lines[-1] == (f"preflight {host.name}: {total} problem(s) ({len(tree.local)} here, "
                         f"{len(tree.target)} on the target)")
    assert len(lines) == total + 1, proc.stdout
    assert "salt-ssh state.apply preflight" in proc.stderr  # progress lines
    _assert_unchanged(host, before)


def test_pillar_that_cannot_compile_is_reported(host, keys, before, tmp_path):
    tree = write_tree(tmp_path, keys, host.name, host_gets_tampered=True)
    proc = _dsu_preflight(host, tree, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # named by its file, with what Salt said of it
    assert [line for line in proc.stdout.splitlines()
            if line.startswith(str(tree.pillar / "secrets/sops/tampered.sls") + ": pillar ")
            and "does not compile" in line and "'secrets.sops.tampered'" in line], proc.stdout
    assert "secrets/sops/tampered.sls: value at secrets:values:db_password: authentication failed" \
        in proc.stdout, proc.stdout
    _assert_unchanged(host, before)


def test_clean_setup_passes(host, keys, before, tmp_path):
    tree = write_tree(tmp_path, keys, host.name)
    proc = _dsu_preflight(host, tree, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"preflight {host.name}: passed (2 secrets file(s)"), proc.stdout
    _assert_unchanged(host, before)
