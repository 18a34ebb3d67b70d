"""core.memory renders the documented auto rule, its sysctl file, and the VM/container branches."""

import pytest

ZSWAP_PARAMS = {"zswap.compressor": "zstd", "zswap.enabled": 1, "zswap.max_pool_percent": 20}


@pytest.mark.parametrize(("swap_mib", "profile", "strategy"), [
    (2048, "general", "zswap"),
    (2048, "database", "zswap"),
    (0, "general", "zram"),
    (0, "database", "none"),
])
def test_auto_rule_from_physical_swap_and_profile(render_sls, swap_mib, profile, strategy):
    states = render_sls("core.memory", f"core: {{memory: {{profile: {profile}}}}}",
                        grains={"swap_total": swap_mib})
    text = states["core-memory-strategy-chosen"]["test"][0]["text"]
    assert text.startswith(f"strategy {strategy} (configured auto, profile {profile}")
    assert ("core-memory-packages" in states) == (strategy == "zram")


def test_vm_applies_sysctl_live_and_starts_zram(render_sls):
    states = render_sls("core.memory", "core: {memory: {strategy: zram}}",
                        facts={"container": "", "virtual": "kvm"})
    assert "core-memory-sysctl-live" in states and "core-memory-sysctl-live-skipped" not in states
    service = states["core-memory-zram-service"]["service"]
    assert "running" in service and {"enable": True} in service
    assert "core-memory-zram-service-disabled" not in states


def test_container_persists_sysctl_but_skips_live_and_zram_start(render_sls):
    states = render_sls("core.memory", "core: {memory: {strategy: zram}}",
                        facts={"container": "systemd-nspawn", "virtual": "container"})
    contents = next(a["contents"] for a in states["core-memory-sysctl-file"]["file"]
                    if isinstance(a, dict) and "contents" in a)
    assert "vm.swappiness = 60\n" in contents and "vm.dirty_bytes = 268435456\n" in contents
    assert "core-memory-sysctl-live" not in states
    assert "read-only in a container" in states["core-memory-sysctl-live-skipped"]["test"][0]["name"]
    assert "core-memory-zram-service-skipped" in states and "core-memory-zram-service" not in states


def test_zswap_hands_kernel_params_and_database_profile_tunes_swappiness(render_sls):
    states = render_sls("core.memory", "core: {memory: {strategy: zswap, profile: database}}")
    note = states["core-memory-kernel-params-handed-to-grub"]["test"][0]["text"]
    assert note.endswith(" ".join(f"{k}={v}" for k, v in sorted(ZSWAP_PARAMS.items())))
    contents = next(a["contents"] for a in states["core-memory-sysctl-file"]["file"]
                    if isinstance(a, dict) and "contents" in a)
    assert "vm.swappiness = 1\n" in contents


@pytest.mark.parametrize(("pillar", "keys"), [
    ("{strategy: zfs}", ["core:memory:strategy: is 'zfs'"]),
    ("{profile: web}", ["core:memory:profile: is 'web', must be a key of profiles (database, general)"]),
    # a newline would add a line to the zramswap file
    ('{strategy: zram, zram: {percent: 150, algo: "zstd\\nPRIORITY=1"}}',
     ["core:memory:zram:percent: is 150", "core:memory:zram:algo: is a string of 15 characters"]),
])
def test_bad_parameters_refuse_the_render_naming_the_pillar_key(refused_render, pillar, keys):
    message = refused_render("core.memory", f"core: {{memory: {pillar}}}", contract="core/memory")
    assert "core-memory-strategy-chosen" not in message, message
    assert f"{len(keys)} parameter(s) break" in message, message
    for key in keys:
        assert key in message, (key, message)


def test_bad_memory_parameters_refuse_core_grub_too(refused_render):
    # core.grub imports core.memory's map: its render stops at the same contract.
    message = refused_render("core.grub", "core: {memory: {strategy: zfs}}", facts={"virtual": "kvm"},
                             contract="core/memory")
    assert "core:memory:strategy" in message, message
