"""The health module, gate and evidence on a real Debian 12 host (systemd PID 1, own network
namespace): real units, a real HTTP service, a closed port, a port that never answers, a small
filesystem filled past its thresholds, and podman with real containers."""

import json
import os
import time

import jsonschema
import pytest

from dsu.bench.health import SERVERS
from dsu.lab import hosts as lab
from dsu.runs import summarize_states
from dsu.saltssh import salt_ssh
from tests.conftest import REPO
from tests.integration.conftest import booted_host, converge, on_host

SETUP = r"""
set -e
printf '[Service]\nExecStart=/bin/sleep infinity\n' > /etc/systemd/system/dsu-stopped.service
printf '[Service]\nExecStart=/bin/false\n' > /etc/systemd/system/dsu-broken.service
systemctl daemon-reload
systemctl start dsu-broken.service || true
mkdir -p /mnt/small && mount -t tmpfs -o size=1m tmpfs /mnt/small
"""


# Only what the tests declare (use_defaults: false), with short timeouts.
CHECKS = {
    "use_defaults": False,
    "timeout_s": 2,
    "units": {
        "ssh.service": {},
        "dsu-stopped.service": {},
        "dsu-broken.service": {"mandatory": False},
        "dsu-optional-absent.service": {"mandatory": False},
        "dsu-required-absent.service": {},
    },
    "failed_units": {"enabled": True, "mandatory": False},
    "endpoints": {
        "web": {"url": "http://127.0.0.1:8080/", "body_match": "dsu-health-ok"},
        "web-wrong-body": {"url": "http://127.0.0.1:8080/", "body_match": "^nope",
                           "mandatory": False},
        "closed": {"url": "http://127.0.0.1:8099/"},
        "silent": {"url": "http://127.0.0.1:8098/"},
        "silent-too": {"url": "http://127.0.0.1:8098/again", "mandatory": False},
        "ssh": {"tcp": "127.0.0.1:22"},
    },
    "disks": {"/mnt/small": {"warn": 50, "critical": 90, "inodes": False}},
}


@pytest.fixture(scope="module")
def host():
    with booted_host(f"h{os.getpid()}") as booted:
        on_host(booted, SETUP + SERVERS)
        yield booted


def _roster():
    from dsu.lab.roster import roster_path
    return roster_path(lab.lab_dir())


def _call(host, fun, *args):
    run = salt_ssh([host.name], fun, *args, roster=_roster())
    ret = run.returns.get(host.name)
    assert run.returncode == 0 and ret is not None, (run.returncode, ret, run.stderr[-2000:])
    return ret


def _by_name(summary):
    return {c["name"]: c for c in summary["checks"]}


def test_units_endpoints_and_disk_on_a_real_host(host, schema):
    on_host(host, "dd if=/dev/zero of=/mnt/small/fill bs=1k count=600 status=none")
    started = time.monotonic()
    summary = _call(host, "health.check", "run_id=units-and-endpoints",
                    f"checks={json.dumps(CHECKS)}")
    wall = time.monotonic() - started
    jsonschema.validate(summary, schema("health-check.v1.json"))
    checks = _by_name(summary)
    status = {name: c["status"] for name, c in checks.items()}

    assert status["unit:ssh.service"] == "pass"
    assert status["unit:dsu-stopped.service"] == "fail"
    assert checks["unit:dsu-stopped.service"]["observed"]["active_state"] == "inactive"
    assert status["unit:dsu-broken.service"] == "fail"
    assert checks["unit:dsu-broken.service"]["observed"]["active_state"] == "failed"
    assert status["unit:dsu-optional-absent.service"] == "skip"
    assert status["unit:dsu-required-absent.service"] == "fail"
    assert "not installed" in checks["unit:dsu-required-absent.service"]["message"]
    assert status["failed_units:all"] == "fail"
    assert "dsu-broken.service" in checks["failed_units:all"]["observed"]

    assert status["endpoint:web"] == "pass"
    assert checks["endpoint:web"]["observed"] == {"status": 200}
    assert status["endpoint:web-wrong-body"] == "fail"
    assert status["endpoint:ssh"] == "pass"
    # A closed port is refused at once; a silent one costs exactly its own timeout...
    assert status["endpoint:closed"] == "fail" and checks["endpoint:closed"]["duration_ms"] < 1000
    for silent in ("endpoint:silent", "endpoint:silent-too"):
        assert status[silent] == "fail" and "no answer within 2s" in checks[silent]["message"]
        assert 1900 <= checks[silent]["duration_ms"] < 3500
    # ...and two of them run side by side, not one after the other.
    assert summary["duration_ms"] < 3500, summary["duration_ms"]

    assert status["disk:/mnt/small"] == "warn"
    assert checks["disk:/mnt/small"]["observed"]["mount"] == "/mnt/small"

    assert summary["overall_status"] == "fail" and summary["overall_ok"] is False
    assert set(summary["mandatory_failures"]) == {
        "unit:dsu-stopped.service", "unit:dsu-required-absent.service", "endpoint:closed",
        "endpoint:silent"}
    assert summary["counts"]["total"] == len(summary["checks"])
    print(f"health.check over salt-ssh: {wall:.1f}s wall, {summary['duration_ms']:.0f} ms in the module")

    # Filled past the critical level, the same filesystem fails.
    on_host(host, "dd if=/dev/zero of=/mnt/small/more bs=1k count=350 status=none || true")
    (disk,) = _call(host, "health.disk", json.dumps({"/mnt/small": {"warn": 50, "critical": 90,
                                                                     "inodes": False}}))
    assert disk["status"] == "fail" and disk["observed"]["used_percent"] >= 90, disk


def _gate(host, checks, *extra):
    pillar = {"health_check": {"profile_checks": False, **checks}}
    run = salt_ssh([host.name], "state.apply", "ops.health_check", *extra,
                   f"pillar={json.dumps(pillar)}", roster=_roster())
    return run, summarize_states(run.returns.get(host.name, [run.stderr]))


def _host_evidence(host):
    return json.loads(on_host(host, f"cat /var/lib/deploy-system/health/{host.name}.json"))


def test_gate_fails_the_run_on_a_mandatory_failure_and_keeps_the_evidence(host, schema):
    checks = {"use_defaults": False, "timeout_s": 2, "run_id": f"gate-fail-{os.getpid()}",
              "units": {"ssh.service": {}},
              "endpoints": {"closed": {"url": "http://127.0.0.1:8099/"}}}
    run, summary = _gate(host, checks)
    assert run.returncode != 0
    assert not summary.success and [p.id for p in summary.failed_states] == ["ops-health-check-gate"]
    assert "endpoint:closed" in summary.failed_states[0].comment
    evidence = _host_evidence(host)
    jsonschema.validate(evidence, schema("health-check.v1.json"))
    assert evidence["run_id"] == checks["run_id"]
    assert evidence["mandatory_failures"] == ["endpoint:closed"]

    # The operator side got the run's artifacts through the job cache (etc/salt/master).
    run_dir = REPO / "ci-artifacts" / "health" / checks["run_id"]
    operator = json.loads((run_dir / f"{host.name}.json").read_text())
    jsonschema.validate(operator, schema("health-check.v1.json"))
    assert operator["mandatory_failures"] == ["endpoint:closed"]
    assert host.name in (run_dir / "summary.md").read_text()

    # fail_on_mandatory: false reports the same failure and lets the run pass.
    run, summary = _gate(host, {**checks, "fail_on_mandatory": False})
    assert run.returncode == 0 and summary.success, summary.failed_states


def test_optional_failure_leaves_the_gate_green_and_idempotent(host):
    checks = {"use_defaults": False, "timeout_s": 2, "run_id": f"gate-green-{os.getpid()}",
              "units": {"ssh.service": {}},
              "endpoints": {"web": {"url": "http://127.0.0.1:8080/"},
                            "closed": {"url": "http://127.0.0.1:8099/", "mandatory": False}}}
    converge(host, "ops.health_check", {"health_check": {"profile_checks": False, **checks}})
    evidence = _host_evidence(host)
    assert evidence["overall_status"] == "warn" and evidence["overall_ok"] is True
    assert evidence["mandatory_failures"] == []


PODMAN_SETUP = r"""
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q podman busybox-static >/dev/null
# nspawn forbids the kernel keyring syscalls; crun would fail every container without this.
printf '[containers]\nkeyring = false\n' > /etc/containers/containers.conf
mkdir -p /srv/rootfs/bin && cp /bin/busybox /srv/rootfs/bin/
for c in sh sleep true false; do ln -sf busybox /srv/rootfs/bin/$c; done
# --cgroups=disabled: the lab host's cgroup tree (v1, owned by nspawn) is not podman's to split.
run() { podman run -d --cgroups=disabled --network none --health-interval 1s "$@" >/dev/null; }
run --name web --health-cmd true --rootfs /srv/rootfs sleep 100000
run --name sick --health-cmd false --health-retries 1 --rootfs /srv/rootfs sleep 100000
podman healthcheck run web >/dev/null
podman healthcheck run sick >/dev/null || true
"""


def test_container_runtime_probe_with_real_podman(host, schema):
    on_host(host, PODMAN_SETUP)
    checks = {"use_defaults": False, "timeout_s": 20,
              "runtimes": {"podman": {"containers": {"web": {}, "sick": {"mandatory": False},
                                                     "ghost": {}}},
                           "docker": {"mandatory": False}}}
    summary = _call(host, "health.check", f"checks={json.dumps(checks)}")
    jsonschema.validate(summary, schema("health-check.v1.json"))
    checks_by = _by_name(summary)
    assert checks_by["runtime:podman"]["status"] == "pass", checks_by["runtime:podman"]
    assert checks_by["container:podman/web"]["status"] == "pass"
    assert checks_by["container:podman/web"]["observed"]["health"] == "healthy"
    assert checks_by["container:podman/sick"]["status"] == "fail"
    assert checks_by["container:podman/sick"]["observed"]["health"] == "unhealthy"
    assert checks_by["container:podman/ghost"]["status"] == "fail"
    assert checks_by["runtime:docker"]["status"] == "skip"
    assert summary["mandatory_failures"] == ["container:podman/ghost"]

    # The probe against the real CLI failing: podman refuses a broken storage configuration.
    on_host(host, "printf '[storage]\\ndriver = \"no-such-driver\"\\n' > /etc/containers/storage.conf")
    try:
        (probe,) = _call(host, "health.runtime", "podman")
    finally:
        on_host(host, "rm -f /etc/containers/storage.conf")
    assert probe["status"] == "fail" and probe["message"].startswith("podman info failed"), probe


def test_benchmark_report_of_100_checks_with_20_dead_endpoints(host, schema):
    from dsu.bench.health import health_bench, markdown
    from tests.integration.conftest import REPORTS

    report = health_bench(host, repeats=1)
    jsonschema.validate(report, schema("bench-health.v1.json"))
    assert report["full"]["checks"] == 100 and report["dead_endpoints"] == 20
    assert report["full"]["counts"]["fail"] >= 20
    REPORTS.append(markdown(report))
