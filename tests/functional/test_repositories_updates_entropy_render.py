"""core.repositories, core.updates and core.entropy render from their defaults and from pillar."""

import pytest

from tests.support.states import state_arg


def test_repositories_mirror_and_components_from_pillar(render_sls):
    states = render_sls("core.repositories",
                        "core:\n  repositories:\n    mirror: http://mirror.example/debian\n"
                        "    components: [main, non-free-firmware]\n")
    text = state_arg(states["core-repositories-debian-sources"], "file", "contents")
    assert "URIs: http://mirror.example/debian\n" in text
    assert "URIs: http://mirror.example/debian-security\n" in text
    assert text.count("Components: main non-free-firmware\n") == 2
    onchanges = state_arg(states["core-repositories-package-cache-refreshed"], "module", "onchanges")
    assert {"file": "core-repositories-debian-sources"} in onchanges


def test_repositories_security_mirror_override(render_sls):
    states = render_sls("core.repositories",
                        "core:\n  repositories:\n    mirror: http://a.example/debian\n"
                        "    security_mirror: http://b.example/sec\n")
    text = state_arg(states["core-repositories-debian-sources"], "file", "contents")
    assert "URIs: http://b.example/sec\nSuites: " in text


def test_repositories_without_components_fail_visibly(render_sls):
    states = render_sls("core.repositories", "core:\n  repositories:\n    components: []\n")
    assert "core-repositories-sources-undetermined" in states
    assert "core-repositories-debian-sources" not in states


def test_updates_pillar_renders_reboot_policy_and_origins(render_sls):
    states = render_sls("core.updates",
                        "core:\n  updates:\n    automatic_reboot: true\n    reboot_time: '04:15'\n"
                        "    origins_patterns: ['origin=Example']\n    periodic: {Unattended-Upgrade: 0}\n")
    text = state_arg(states["core-updates-unattended-upgrades-config"], "file", "contents")
    assert 'Unattended-Upgrade::Automatic-Reboot "true";' in text
    assert 'Automatic-Reboot-Time "04:15";' in text
    assert '"origin=Example";' in text and "label=Debian" not in text
    periodic = state_arg(states["core-updates-periodic-config"], "file", "contents")
    assert 'APT::Periodic::Unattended-Upgrade "0";' in periodic
    assert 'APT::Periodic::Update-Package-Lists "1";' in periodic


def test_updates_bad_needrestart_mode_fails_visibly(render_sls):
    states = render_sls("core.updates", "core:\n  updates:\n    needrestart_mode: x\n")
    assert "test" in states["core-updates-needrestart-mode"]


@pytest.mark.parametrize("mode, present, absent", [
    ("none", "core-entropy-daemon-skipped", "core-entropy-packages-installed"),
    ("haveged", "core-entropy-packages-installed", "core-entropy-daemon-skipped"),
    ("bogus", "core-entropy-mode-invalid", "core-entropy-packages-installed"),
])
def test_entropy_modes(render_sls, mode, present, absent):
    states = render_sls("core.entropy", f"core:\n  entropy:\n    mode: {mode}\n")
    assert present in states and absent not in states


def test_entropy_rng_tools_package_and_unit(render_sls):
    states = render_sls("core.entropy",
                        "core:\n  entropy:\n    mode: rng-tools\n    start_in_container: true\n")
    assert state_arg(states["core-entropy-packages-installed"], "pkg", "pkgs") == ["rng-tools5"]
    assert state_arg(states["core-entropy-rngd-running"], "service", "enable") is True
