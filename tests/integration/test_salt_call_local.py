"""salt-call --local on the server itself, from a checkout of this repo: nothing in /etc/salt."""

import json
import shlex
import subprocess

import jsonschema
import pytest

from dsu.lab import hosts as lab
from dsu.lab import minion
from tests.integration.conftest import on_host

# What a server's checkout needs for salt-call; the operator tooling stays behind.
CHECKOUT = ["Saltfile", "etc", "salt", "pillar", "_modules", "_states", "_utils", "_grains",
            "_returners", "_renderers"]


def _copy_checkout(repo, host, dest):
    pack = subprocess.Popen(["tar", "-C", str(repo), "-cf", "-", *CHECKOUT], stdout=subprocess.PIPE)
    unpack = subprocess.run(lab.ssh_argv(host, f"mkdir -p {dest} && tar -C {dest} -xf -"),
                            stdin=pack.stdout, capture_output=True, text=True)
    assert pack.wait() == 0 and unpack.returncode == 0, unpack.stderr


def _salt_call(host, bindir, *args):
    out = on_host(host, f"cd /srv/dsu && {bindir}/salt-call --out=json --retcode-passthrough "
                        + " ".join(args))
    return json.loads(out)["local"]


@pytest.fixture(scope="module")
def checkout_host(repo, lab_hosts):
    """The salt-call host with the pinned salt and a copy of this checkout in /srv/dsu."""
    host = lab_hosts[2]
    bindir = minion.install_salt(host)
    _copy_checkout(repo, host, "/srv/dsu")
    return host, bindir


def test_highstate_from_a_checkout_with_salt_call_local(checkout_host):
    host, bindir = checkout_host
    assert on_host(host, "test -e /etc/salt/minion && echo yes || echo no").strip() == "no"

    # The repo's custom module is found without any sync step.
    assert _salt_call(host, bindir, "hostfacts.init_system") == "systemd"

    first = _salt_call(host, bindir, "state.apply")
    assert all(s["result"] for s in first.values()), first
    assert any(s["changes"] for s in first.values())
    assert on_host(host, "dpkg-query -W -f='${Status}' git") == "install ok installed"
    assert on_host(host, "test -d /srv/dsu/.salt-root/var/cache/salt && echo yes").strip() == "yes"

    again = _salt_call(host, bindir, "state.apply")
    assert [k for k, s in again.items() if s["changes"]] == []


def test_health_check_returner_writes_the_artifacts_on_the_server(checkout_host, schema):
    host, bindir = checkout_host
    checks = json.dumps({"use_defaults": False, "units": {"ssh.service": {}}, "disks": {"/": {}}})
    summary = _salt_call(host, bindir, "health.check", "run_id=local-returner",
                         shlex.quote(f"checks={checks}"), "--return", "health_json")
    assert summary["overall_status"] == "pass", summary
    base = "/var/lib/deploy-system/health"
    written = json.loads(on_host(host, f"cat {base}/local-returner/{summary['host']}.json"))
    jsonschema.validate(written, schema("health-check.v1.json"))
    assert written == summary
    assert on_host(host, f"cat {base}/LATEST_RUN.txt").strip() == "local-returner"
    assert summary["host"] in on_host(host, f"cat {base}/local-returner/summary.md")
    # On the server itself the returner also keeps the host-side copy.
    assert json.loads(on_host(host, f"cat {base}/{summary['host']}.json"))["run_id"] == \
        "local-returner"
