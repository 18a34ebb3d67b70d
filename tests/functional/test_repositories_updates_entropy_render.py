"""core.repositories, core.updates and core.entropy render from their defaults and from pillar."""

import os
import subprocess
import sys

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


def _refused(refused_render, sls, pillar, role_dir, *keys):
    """The render of *sls* with *pillar* is refused by the role's contract, naming each pillar
    key in *keys*."""
    text = refused_render(sls, pillar, contract=role_dir)
    for key in keys:
        assert key in text, (key, text)
    return text


def test_repositories_without_components_refuse_to_render(refused_render):
    _refused(refused_render, "core.repositories", "core:\n  repositories:\n    components: []\n",
             "core/repositories", "core:repositories:components: is missing or empty")


@pytest.mark.parametrize("pillar, key", [
    ("mirror: \"http://mirror.example/debian\\nTypes: deb-src\"",
     "core:repositories:mirror: is a string of 43"),
    ("mirror: ftp://ftp.example/debian", "core:repositories:mirror: is 'ftp://ftp.example/debian'"),
    ("components: [main, universe]", "core:repositories:components:1: is 'universe'"),
    ("dpkg_options: ['--force-confold; reboot']", "core:repositories:dpkg_options:0: is"),
])
def test_repositories_bad_parameters_refuse_to_render(refused_render, pillar, key):
    _refused(refused_render, "core.repositories", f"core:\n  repositories:\n    {pillar}\n",
             "core/repositories", key)


REPAIR = "core-repositories-interrupted-dpkg-repaired"


def test_repositories_dpkg_repair_comes_first_and_answers_apt(render_sls):
    states = render_sls("core.repositories")
    repair = states[REPAIR]
    assert state_arg(repair, "cmd", "name") == (
        "dpkg --force-confold --force-confdef --configure -a; apt-get --yes "
        "-o DPkg::Options::=--force-confold -o DPkg::Options::=--force-confdef --fix-broken install")
    assert state_arg(repair, "cmd", "env")["DEBIAN_FRONTEND"] == "noninteractive"
    assert state_arg(repair, "cmd", "order") == 1
    # Nothing in the role touches apt before it; the package transaction every role's
    # pkg.installed joins inherits the pkg state's requisites.
    for state_id, module in (("core-repositories-package-cache-refreshed", "module"),
                             ("core-repositories-package-cache-built", "module"),
                             ("core-repositories-packages-installed", "pkg")):
        assert {"cmd": REPAIR} in state_arg(states[state_id], module, "require"), state_id


def test_repositories_sources_undetermined_fail_visibly_with_the_repair(render_sls):
    # About the host, not the parameters: its sources list no archive for its codename and
    # pillar names no mirror.
    states = render_sls("core.repositories", grains={"oscodename": "nosuchrelease"})
    assert REPAIR in states and "core-repositories-sources-undetermined" in states
    assert "core-repositories-debian-sources" not in states
    assert "no Debian archive for nosuchrelease" in state_arg(
        states["core-repositories-sources-undetermined"], "test", "name")


@pytest.fixture
def dpkg_sandbox(render_sls, tmp_path):
    """The repair's onlyif as rendered for a dpkg directory in *tmp_path*, run there by sh with a
    stand-in dpkg whose --audit prints $AUDIT: (dir, run(audit="") -> True when the repair would
    run). Only lslocks is the machine's own (it reads /proc/locks)."""
    dpkg_dir = tmp_path / "dpkg"
    (dpkg_dir / "updates").mkdir(parents=True)
    fake = tmp_path / "bin" / "dpkg"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nprintf %s "$AUDIT"\n')
    fake.chmod(0o755)
    states = render_sls("core.repositories", f"core:\n  repositories:\n    dpkg_dir: {dpkg_dir}\n")
    onlyif = state_arg(states[REPAIR], "cmd", "onlyif")

    def run(audit=""):
        env = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}", "AUDIT": audit}
        return subprocess.run(["sh", "-c", onlyif], env=env, capture_output=True).returncode == 0

    return dpkg_dir, run


def test_dpkg_repair_runs_only_when_dpkg_says_interrupted(dpkg_sandbox):
    dpkg_dir, would_repair = dpkg_sandbox
    assert not would_repair()
    # dpkg writes a journal entry as tmp.i first, then renames it to digits: only those count.
    (dpkg_dir / "updates" / "tmp.i").write_text("")
    assert not would_repair()
    (dpkg_dir / "updates" / "0003").write_text("Package: vim\nStatus: install ok half-configured\n")
    assert would_repair()
    (dpkg_dir / "updates" / "0003").unlink()
    assert would_repair(audit="The following packages are only half configured, ...")


@pytest.mark.parametrize("lock", ["lock-frontend", "lock"])
def test_dpkg_repair_waits_while_someone_holds_dpkgs_lock(dpkg_sandbox, lock):
    dpkg_dir, would_repair = dpkg_sandbox
    (dpkg_dir / "updates" / "0000").write_text("")
    path = dpkg_dir / lock
    path.write_text("")
    # A dpkg at work keeps a journal too: while a process holds the lock as dpkg does (fcntl),
    # the journal is no sign of an interruption.
    holder = subprocess.Popen([sys.executable, "-c", f"import fcntl, time; f = open({str(path)!r}, 'w'); "
                               f"fcntl.lockf(f, fcntl.LOCK_EX); print(flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        holder.stdout.readline()
        assert not would_repair()
    finally:
        holder.kill()
        holder.wait()
    assert would_repair()


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


@pytest.mark.parametrize("mode", ["a", "i", "l"])
def test_updates_needrestart_mode(render_sls, mode):
    states = render_sls("core.updates", f"core:\n  updates:\n    needrestart_mode: {mode}\n")
    text = state_arg(states["core-updates-needrestart-mode"], "file", "contents")
    assert f"$nrconf{{restart}} = '{mode}';" in text


def test_updates_bad_needrestart_mode_refuses_to_render(refused_render):
    _refused(refused_render, "core.updates", "core:\n  updates:\n    needrestart_mode: x\n", "core/updates",
             "core:updates:needrestart_mode: is 'x', must be one of 'a', 'i', 'l'")


def test_updates_bad_parameters_are_all_named(refused_render):
    text = _refused(refused_render, "core.updates",
                    "core:\n  updates:\n    reboot_time: '25:00'\n    units: [apt-daily]\n"
                    "    origins_patterns: ['origin=Debian\"; x']\n    periodic: {Unattended-Upgrade: -1}\n",
                    "core/updates", "core:updates:reboot_time: is '25:00'",
                    "core:updates:units:0: is 'apt-daily'", "core:updates:origins_patterns:0: is",
                    "core:updates:periodic:Unattended-Upgrade: is -1")
    assert "4 parameter(s)" in text


@pytest.mark.parametrize("mode, present, absent", [
    ("none", "core-entropy-daemon-skipped", "core-entropy-packages-installed"),
    ("haveged", "core-entropy-packages-installed", "core-entropy-daemon-skipped"),
])
def test_entropy_modes(render_sls, mode, present, absent):
    states = render_sls("core.entropy", f"core:\n  entropy:\n    mode: {mode}\n")
    assert present in states and absent not in states


@pytest.mark.parametrize("pillar, key", [
    ("mode: bogus", "core:entropy:mode: is 'bogus', must be one of 'auto', 'haveged', 'rng-tools', 'none'"),
    ("start_in_container: 'yes'", "core:entropy:start_in_container: is 'yes', must be true or false"),
    ("daemons: {haveged: {package: 'haveged; reboot'}}", "core:entropy:daemons:haveged:package: is"),
])
def test_entropy_bad_parameters_refuse_to_render(refused_render, pillar, key):
    _refused(refused_render, "core.entropy", f"core:\n  entropy:\n    {pillar}\n", "core/entropy", key)


def test_entropy_rng_tools_package_and_unit(render_sls):
    states = render_sls("core.entropy",
                        "core:\n  entropy:\n    mode: rng-tools\n    start_in_container: true\n")
    assert state_arg(states["core-entropy-packages-installed"], "pkg", "pkgs") == ["rng-tools5"]
    assert state_arg(states["core-entropy-rngd-running"], "service", "enable") is True
