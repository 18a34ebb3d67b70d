"""core.updates on a fresh Debian 12 lab host: unattended-upgrades installed, configured from
parameters (periodic runs, origins, reboot policy), enabled; needrestart mode set; idempotent."""

from tests.integration.conftest import converge, on_host

PACKAGES = ("unattended-upgrades", "apt-listchanges", "needrestart")
UNITS = ("unattended-upgrades.service", "apt-daily.timer", "apt-daily-upgrade.timer")


def _apt_config(host):
    dump = on_host(host, "apt-config dump")
    return {line for line in dump.splitlines() if "Periodic::" in line or "Unattended-Upgrade::" in line}


def _allowed_origins(host):
    """What unattended-upgrade itself reads from the configuration (its dry run's first lines)."""
    out = on_host(host, "unattended-upgrade --dry-run --debug 2>&1 | grep -m1 '^Allowed origins are:'")
    return out.strip().removeprefix("Allowed origins are: ").split(", ")


def test_updates_defaults(fresh_host):
    host = fresh_host()
    converge(host, "core.updates")

    status = on_host(host, "dpkg-query -W -f='${Status}\\n' " + " ".join(PACKAGES))
    assert status.count("install ok installed") == len(PACKAGES), status
    for unit in UNITS:
        assert on_host(host, f"systemctl is-enabled {unit}").strip() == "enabled", unit
        assert on_host(host, f"systemctl is-active {unit}").strip() == "active", unit

    config = _apt_config(host)
    assert {'APT::Periodic::Update-Package-Lists "1";', 'APT::Periodic::Unattended-Upgrade "1";',
            'APT::Periodic::AutocleanInterval "7";',
            'Unattended-Upgrade::Automatic-Reboot "false";',
            'Unattended-Upgrade::Automatic-Reboot-Time "02:00";'} <= config, config
    assert _allowed_origins(host) == ["origin=Debian,codename=bookworm,label=Debian",
                                      "origin=Debian,codename=bookworm,label=Debian-Security",
                                      "origin=Debian,codename=bookworm-security,label=Debian-Security"]
    assert "$nrconf{restart} = 'a';" in on_host(host, "cat /etc/needrestart/conf.d/50-dsu.conf")


def test_updates_reboot_policy_origins_and_needrestart_from_pillar(fresh_host):
    host = fresh_host()
    converge(host, "core.updates", {"core": {"updates": {
        "automatic_reboot": True, "reboot_time": "03:30", "needrestart_mode": "l",
        "periodic": {"AutocleanInterval": 0},
        "origins_patterns": ["origin=Debian,codename=${distro_codename}-security,label=Debian-Security"],
    }}})

    config = _apt_config(host)
    assert {'Unattended-Upgrade::Automatic-Reboot "true";',
            'Unattended-Upgrade::Automatic-Reboot-Time "03:30";',
            'APT::Periodic::AutocleanInterval "0";',
            'APT::Periodic::Unattended-Upgrade "1";'} <= config, config
    # The pillar list replaces the package's own origins instead of adding to them.
    assert _allowed_origins(host) == ["origin=Debian,codename=bookworm-security,label=Debian-Security"]
    assert "$nrconf{restart} = 'l';" in on_host(host, "cat /etc/needrestart/conf.d/50-dsu.conf")
    assert on_host(host, "systemctl is-active unattended-upgrades").strip() == "active"
