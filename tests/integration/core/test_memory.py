"""core.memory on fresh Debian 12 lab hosts (containers, no disk swap): the zram and zswap pillar
variants, the sysctl file, and the explicit skips of what a container cannot do; idempotent."""


from tests.integration.conftest import converge, on_host, states_by_id

SYSCTL_FILE = "/etc/sysctl.d/60-dsu-memory.conf"



def test_memory_zram_variant(fresh_host):
    host = fresh_host()
    pillar = {"core": {"memory": {"strategy": "zram", "zram": {"percent": 25}}}}
    done = converge(host, "core.memory", pillar)
    assert done.first.changed >= 3

    assert on_host(host, f"cat {SYSCTL_FILE}").splitlines()[1:] == [
        "vm.dirty_background_bytes = 67108864", "vm.dirty_bytes = 268435456",
        "vm.swappiness = 60", "vm.vfs_cache_pressure = 50"]
    assert on_host(host, f"stat -c '%a %U' {SYSCTL_FILE}").strip() == "644 root"
    assert "install ok installed" in on_host(host, "dpkg-query -W -f='${Status}' zram-tools")
    config = on_host(host, "cat /etc/default/zramswap").splitlines()
    assert {"ALGO=zstd", "PERCENT=25", "PRIORITY=100"} <= set(config), config
    # A container has no zram device: the unit is disabled and not left failed.
    assert on_host(host, "systemctl is-enabled zramswap || true").strip() == "disabled"
    assert on_host(host, "systemctl is-failed zramswap || true").strip() == "inactive"

    states = states_by_id(host, "core.memory", pillar)
    assert states["core-memory-strategy-chosen"][1].startswith("strategy zram")
    for skipped in ("core-memory-sysctl-live-skipped", "core-memory-zram-service-skipped",
                    "core-memory-zswap-runtime-skipped"):
        result, comment = states[skipped]
        assert result is True and comment.startswith("skipped: "), (skipped, comment)
    assert "kernel parameters for core.grub: zswap.enabled=0" in states[
        "core-memory-kernel-params-handed-to-grub"][1]


def test_memory_zswap_variant_with_database_profile(fresh_host):
    host = fresh_host()
    pillar = {"core": {"memory": {"strategy": "zswap", "profile": "database",
                                  "sysctl": {"vm.vfs_cache_pressure": 80}}}}
    converge(host, "core.memory", pillar)

    settings = on_host(host, f"cat {SYSCTL_FILE}").splitlines()
    assert {"vm.swappiness = 1", "vm.vfs_cache_pressure = 80"} <= set(settings), settings
    # zswap needs no package: zram-tools stays off the host.
    assert "zram-tools" not in on_host(host, "dpkg-query -W -f='${Package}\\n' 'zram*' 2>/dev/null || true")

    states = states_by_id(host, "core.memory", pillar)
    assert states["core-memory-strategy-chosen"][1].startswith("strategy zswap (configured zswap, "
                                                               "profile database")
    assert states["core-memory-kernel-params-handed-to-grub"][1].endswith(
        "zswap.compressor=zstd zswap.enabled=1 zswap.max_pool_percent=20")
    assert "read-only in a container" in states["core-memory-zswap-runtime-skipped"][1]
