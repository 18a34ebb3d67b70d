"""Logic of the health module with stand-in Salt functions: summary rules, configuration
layering, units parsing, and a probe that never returns."""

import datetime
import time

import pytest

from tests.support.saltmods import load, utils

SHOW = {unit: f"Id={unit}\nLoadState={load}\nActiveState={active}\nSubState={sub}\nResult=success"
        for unit, load, active, sub in [("ssh.service", "loaded", "active", "running"),
                                        ("gone.service", "not-found", "inactive", "dead"),
                                        ("off.service", "loaded", "inactive", "dead")]}


def _cmd(argv, **_):
    units = [a for a in argv[3:] if a != "--"]
    return {"retcode": 0, "stdout": "\n\n".join(SHOW[u] for u in units), "stderr": ""}


@pytest.fixture
def health():
    return load("_modules", "health", pillar={}, opts={"id": "web1"}, grains={"kernel": "Linux"},
                salt={"cmd.run_all": _cmd}, utils=utils("health_report"))


def _result(health, name, status, mandatory=True):
    return health._result(name, name.split(":")[0], mandatory, status)


def test_overall_status_rules(health):
    now = datetime.datetime.now(datetime.UTC)

    def overall(*results):
        summary = health.summarize(list(results), "r1", "web1", now, now)
        return summary["overall_status"], summary["overall_ok"], summary["mandatory_failures"]

    assert overall(_result(health, "unit:a", "pass")) == ("pass", True, [])
    assert overall(_result(health, "unit:a", "pass"), _result(health, "disk:/", "warn")) == \
        ("warn", True, [])
    assert overall(_result(health, "unit:b", "fail", mandatory=False)) == ("warn", True, [])
    assert overall(_result(health, "unit:c", "fail"), _result(health, "disk:/", "warn")) == \
        ("fail", False, ["unit:c"])
    assert overall(_result(health, "unit:d", "skip", mandatory=False)) == ("pass", True, [])


def test_pillar_layers_and_use_defaults(health):
    health.__pillar__ = {"health_check": {"timeout_s": 2, "units": {"caddy.service": {
        "enabled": False}}}}
    merged = health.config()
    assert merged["timeout_s"] == 2 and merged["units"]["caddy.service"]["enabled"] is False
    assert merged["units"]["podman.socket"] == {"mandatory": True}
    health.__pillar__ = {}
    bare = health.config({"use_defaults": False, "units": {"ssh.service": {}}})
    assert bare["units"] == {"ssh.service": {}} and bare["endpoints"] == {}
    with pytest.raises(health.CommandExecutionError, match="must be a mapping"):
        health.config(["not", "a", "mapping"])


def test_profile_checks_lie_under_the_pillar_and_only_when_asked(health):
    health.__pillar__ = {
        "deploy": {"profile": "production", "health_checks": {
            "all": {"use_defaults": False, "timeout_s": 3,
                    "units": {"chrony.service": {"mandatory": True}}},
            "production": {"time": {"enabled": True, "mandatory": True}},
            "dev": {"units": {"dev.service": {}}}}},
        "health_check": {"timeout_s": 2, "units": {"app.service": {}}}}
    profiled = health.config(profile=True)
    assert set(profiled["units"]) == {"chrony.service", "app.service"}
    assert profiled["timeout_s"] == 2 and profiled["endpoints"] == {}
    assert profiled["time"] == {"enabled": True, "mandatory": True}
    assert "caddy.service" in health.config()["units"]  # not asked: the profile is not read
    health.__pillar__["health_check"]["use_defaults"] = True  # the pillar has the last word
    assert "caddy.service" in health.config(profile=True)["units"]


def test_units_absent_inactive_and_disabled(health):
    results = {r["name"]: r for r in health.units({
        "ssh.service": {}, "gone.service": {"mandatory": False}, "off.service": {},
        "later.service": {"enabled": False}})}
    assert results["unit:ssh.service"]["status"] == "pass"
    assert results["unit:gone.service"]["status"] == "skip"
    assert results["unit:off.service"]["status"] == "fail"
    assert "expected active" in results["unit:off.service"]["message"]
    assert results["unit:later.service"]["status"] == "skip"


def test_a_probe_that_never_returns_is_failed_at_its_deadline(health, monkeypatch):
    monkeypatch.setattr(health, "DEADLINE_GRACE_S", 0.2)
    release = []

    def hang():
        while not release:
            time.sleep(0.05)
        return []

    def boom():
        raise RuntimeError("broken probe")

    probes = [health._probe("endpoint:hung", "endpoint", True, 0.3, hang),
              health._probe("unit:*", "unit", False, 5, boom),
              health._probe("disk:*", "disk", True, 5, lambda: [_result(health, "disk:/", "pass")])]
    started = time.monotonic()
    results = {r["name"]: r for r in health._run_concurrently(probes)}
    assert time.monotonic() - started < 2
    release.append(True)
    assert results["endpoint:hung"]["status"] == "fail"
    assert "no result within 0.3s" in results["endpoint:hung"]["message"]
    assert results["unit:*"]["status"] == "fail" and "broken probe" in results["unit:*"]["message"]
    assert results["unit:*"]["mandatory"] is False
    assert results["disk:/"]["status"] == "pass"
