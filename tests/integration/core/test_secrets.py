"""core.secrets on fresh Debian 12 hosts, on disk and on tmpfs: secret files from pillar with
strict modes and owners, a root-only directory, and the secret nowhere in salt-ssh's output."""

import json
import secrets

import pytest

from dsu.lab import hosts as lab
from dsu.lab.roster import roster_path
from dsu.runs import summarize_states
from dsu.saltssh import salt_ssh
from tests.integration.conftest import converge, on_host

DIRECTORY = {False: "/etc/deploy-system/secrets", True: "/run/secrets/deploy-system"}


def _pillar(canary, tmpfs):
    return {
        "secrets": {"values": {"db_password": canary, "api_token": canary[::-1]}},
        "core": {"secrets": {"tmpfs": tmpfs, "files": {
            "db-password": {"value": "db_password"},
            "api-token": {"value": "api_token", "mode": "0640", "group": "adm"},
        }}},
    }


def _apply_raw(host, pillar, *args):
    """salt-ssh run whose whole output (returns and stderr) the caller can search."""
    run = salt_ssh([host.name], "state.apply", "core.secrets", *args,
                   f"pillar={json.dumps(pillar)}", roster=roster_path(lab.lab_dir()))
    return run, summarize_states(run.returns.get(host.name, [run.stderr]))


def _assert_not_leaked(canary, run):
    dump = json.dumps(run.returns) + run.stderr
    assert canary not in dump and canary[::-1] not in dump, "a secret reached salt-ssh output"


@pytest.mark.parametrize("tmpfs", [False, True], ids=["disk", "tmpfs"])
def test_secrets_written_strictly_and_never_shown(fresh_host, tmpfs):
    host = fresh_host()
    canary = secrets.token_hex(24)
    pillar = _pillar(canary, tmpfs)
    directory = DIRECTORY[tmpfs]
    result = converge(host, "core.secrets", pillar)
    assert result.first.changed >= 2
    for summary in (result.first, result.check, result.again):
        for state in summary.changed_states + summary.failed_states:
            assert canary not in state.comment

    assert on_host(host, f"cat {directory}/db-password") == canary
    assert on_host(host, f"cat {directory}/api-token") == canary[::-1]
    modes = on_host(host, f"stat -c '%n %a %U %G' {directory} {directory}/*").splitlines()
    assert sorted(modes) == sorted([
        f"{directory} 700 root root",
        f"{directory}/api-token 640 root adm",
        f"{directory}/db-password 600 root root",
    ])
    mount = on_host(host, f"findmnt -n -o FSTYPE,OPTIONS --mountpoint {directory} || true")
    if tmpfs:
        fstype, options = mount.split()
        assert fstype == "tmpfs"
        assert {"nosuid", "nodev", "noexec", "mode=700"} <= set(options.split(",")), options
    else:
        assert mount.strip() == "", f"{directory} should be on disk, not a mount: {mount}"

    # A lost file and a loosened mode: test=True reports them, a real run repairs them, and
    # neither run shows the secret anywhere in salt-ssh's output.
    on_host(host, f"rm {directory}/db-password && chmod 0644 {directory}/api-token")
    run, check = _apply_raw(host, pillar, "test=True")
    _assert_not_leaked(canary, run)
    assert check.success and check.changed == 2, check.changed_states
    run, repair = _apply_raw(host, pillar)
    _assert_not_leaked(canary, run)
    assert repair.success and repair.changed == 2, repair.changed_states
    assert on_host(host, f"cat {directory}/db-password") == canary
    assert on_host(host, f"stat -c %a {directory}/api-token").strip() == "640"


def test_declared_secret_missing_from_pillar_fails_without_writing(fresh_host):
    host = fresh_host()
    pillar = {"core": {"secrets": {"files": {"db-password": {"value": "db_password"}}}}}
    run, summary = _apply_raw(host, pillar)
    assert not summary.success
    (failed,) = summary.failed_states
    assert "secrets:values:db_password is not set" in failed.comment
    assert on_host(host, f"ls -A {DIRECTORY[False]}") == ""
