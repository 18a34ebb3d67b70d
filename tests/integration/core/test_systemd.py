"""core.systemd on a fresh Debian 12 lab host: manager drop-in live after daemon-reload,
systemd-resolved installed, enabled, running with its drop-in; idempotent."""

from tests.integration.conftest import converge, on_host


def test_systemd_manager_settings_live_and_resolved_running(fresh_host):
    host = fresh_host()
    pillar = {"core": {"systemd": {"manager": {"settings": {"DefaultTimeoutStopSec": "42s"}}}}}
    converge(host, "core.systemd", pillar)

    dropin = on_host(host, "cat /etc/systemd/system.conf.d/50-dsu.conf").splitlines()
    assert {"[Manager]", "DefaultTimeoutStopSec=42s", "DefaultLimitNOFILE=1024:524288"} \
        <= set(dropin), dropin
    # The manager runs with the settings (daemon-reload happened), not only the file exists.
    live = on_host(host, "systemctl show -p DefaultTimeoutStopUSec -p DefaultLimitNOFILE "
                         "-p DefaultLimitNOFILESoft").split()
    assert {"DefaultTimeoutStopUSec=42s", "DefaultLimitNOFILE=524288",
            "DefaultLimitNOFILESoft=1024"} <= set(live), live

    assert "install ok installed" in on_host(
        host, "dpkg-query -W -f='${Status}' systemd-resolved")
    assert on_host(host, "systemctl is-active systemd-resolved").strip() == "active"
    assert on_host(host, "systemctl is-enabled systemd-resolved").strip() == "enabled"
    resolved = on_host(host, "cat /etc/systemd/resolved.conf.d/50-dsu.conf").splitlines()
    assert {"[Resolve]", "LLMNR=no", "MulticastDNS=no"} <= set(resolved), resolved
    assert "-LLMNR -mDNS" in on_host(host, "resolvectl status")
    # The persistent journal is core.logging's: this role leaves journald alone.
    on_host(host, "test ! -e /etc/systemd/journald.conf.d/50-dsu-logging.conf")
