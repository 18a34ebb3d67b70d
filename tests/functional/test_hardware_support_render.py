"""core.hardware_support: microcode on bare metal only, RTC on VMs, warnings for soft requirements;
bad pillar refuses the render."""

import pytest


def test_bare_metal_installs_the_vendors_microcode(render_sls):
    pillar = "core: {hardware_support: {microcode_packages: {GenuineIntel: test-microcode}}}"
    states = render_sls("core.hardware_support", pillar,
                        facts={"virtual": "physical", "container": "", "cpu_vendor": "GenuineIntel"})
    assert {"pkgs": ["test-microcode"]} in states["core-hardware_support-packages"]["pkg"]
    assert "core-hardware_support-rtc-utc" in states


def test_vm_skips_microcode_but_sets_the_rtc_to_utc(render_sls):
    states = render_sls("core.hardware_support", facts={"virtual": "kvm", "container": ""})
    assert "virtual machine (kvm)" in states["core-hardware_support-microcode-skipped"]["test"][0]["name"]
    rtc = states["core-hardware_support-rtc-utc"]["cmd"]
    assert {"unless": 'test "$(timedatectl show --property=LocalRTC --value)" = no'} in rtc


def test_container_skips_microcode_and_rtc(render_sls):
    states = render_sls("core.hardware_support",
                        facts={"virtual": "container", "container": "systemd-nspawn", "boot_mode": "none"})
    assert "core-hardware_support-packages" not in states
    assert "no RTC in a container" in states["core-hardware_support-rtc-utc-skipped"]["test"][0]["name"]


def test_missing_soft_requirement_is_a_succeeding_warning(render_sls):
    pillar = "core: {hardware_support: {soft_requirements: {dsu_absent_flag: needed for testing}}}"
    states = render_sls("core.hardware_support", pillar)
    state = states["core-hardware_support-cpu-dsu_absent_flag"]["test"]
    assert {"result": True} in state and {"changes": False} in state
    assert state[0]["name"].startswith("warning: CPU lacks dsu_absent_flag (needed for testing)")


@pytest.mark.parametrize(("hardware", "problems"), [
    # a flag names a state id: no spaces or upper case
    ("{soft_requirements: {'AES NI': fast TLS}, rtc_utc: 'yes'}",
     ["core:hardware_support:soft_requirements:AES NI: the key is 'AES NI', must be a CPU flag",
      "core:hardware_support:rtc_utc: is 'yes', must be true or false"]),
    ("{microcode_packages: {GenuineIntel: [intel-microcode]}, cpu_flags: avx2}",
     ["core:hardware_support:microcode_packages:GenuineIntel: is a list, must be a Debian package name",
      "core:hardware_support:cpu_flags: is 'avx2', must be a list"]),
    ("{facts_file: hardware.json}",
     ["core:hardware_support:facts_file: is 'hardware.json', must be an absolute path"]),
])
def test_bad_pillar_refuses_the_render_naming_the_key(refused_render, hardware, problems):
    message = refused_render("core.hardware_support", f"core: {{hardware_support: {hardware}}}",
                             contract="core/hardware_support")
    assert f"{len(problems)} parameter(s) break" in message
    for problem in problems:
        assert problem in message, (problem, message)
