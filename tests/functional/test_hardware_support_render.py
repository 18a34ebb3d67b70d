"""core.hardware_support: microcode on bare metal only, RTC on VMs, warnings for soft requirements."""


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
