"""core.hardware_support on a fresh Debian 12 lab host (a container): the hardware facts on
record, microcode and RTC skipped with reasons, a missing soft requirement reported as a
succeeding warning; idempotent (the facts file is deterministic)."""

import json

from tests.integration.conftest import converge, on_host, states_by_id

FACTS_FILE = "/etc/deploy-system/hardware.json"



def test_hardware_support_records_facts_skips_and_warns(fresh_host):
    host = fresh_host()
    pillar = {"core": {"hardware_support": {"soft_requirements": {"dsu_absent_flag": "a test requirement"}}}}
    done = converge(host, "core.hardware_support", pillar)
    assert [p.id for p in done.first.changed_states] == ["core-hardware_support-facts-recorded"]

    facts = json.loads(on_host(host, f"cat {FACTS_FILE}"))
    cpuinfo = on_host(host, "cat /proc/cpuinfo")
    vendor = next(line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("vendor_id"))
    flags = set(next(line.split(":", 1)[1].split() for line in cpuinfo.splitlines()
                     if line.startswith("flags")))
    assert facts["cpu_vendor"] == vendor
    assert facts["cpu_flags"] == {flag: flag in flags for flag in ("aes", "avx", "avx2")}
    assert (facts["virtual"], facts["container"], facts["boot_mode"]) == \
        ("container", "systemd-nspawn", "none")
    assert on_host(host, f"stat -c '%a %U' {FACTS_FILE}").strip() == "644 root"
    # No microcode package in a container.
    assert on_host(host, "dpkg-query -W -f='${Package}\\n' '*microcode*' 2>/dev/null || true").strip() == ""

    states = states_by_id(host, "core.hardware_support", pillar)
    for skipped, reason in (("core-hardware_support-microcode-skipped", "no microcode in a container"),
                            ("core-hardware_support-rtc-utc-skipped", "no RTC in a container")):
        assert states[skipped][0] is True and states[skipped][1].startswith(f"skipped: {reason}")
    result, comment = states["core-hardware_support-cpu-dsu_absent_flag"]
    assert result is True and comment.startswith("warning: CPU lacks dsu_absent_flag (a test requirement)")
    for flag in ("aes", "avx"):
        expected = "ok: CPU has" if flag in flags else "warning: CPU lacks"
        assert states[f"core-hardware_support-cpu-{flag}"][1].startswith(expected)
