"""core.grub on fresh Debian 12 lab hosts. A container's kernel command line belongs to the
machine, so by default the role skips, visibly. With the test switch (allow_container, a harmless
update command) and a realistic /etc/default/grub it edits, backs up, reruns update-grub only on a
change, stays idempotent, and fails a conflict without touching the file."""


from dsu.lab import hosts as lab
from dsu.lab.roster import roster_path
from tests.integration.conftest import apply_and_summarize, converge, on_host, states_by_id

# Debian 12's /etc/default/grub as grub2-common installs it, with a splash added.
DEBIAN_GRUB = """\
# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.
# For full documentation of the options in this file, see:
#   info -f grub -n 'Simple configuration'

GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT="quiet splash"
GRUB_CMDLINE_LINUX=""

# Uncomment to disable graphical terminal (grub-pc only)
#GRUB_TERMINAL=console
"""
UPDATE_LOG = "/root/update-grub.log"
SWITCH = {"allow_container": True, "update_command": f"/bin/sh -c 'echo ran >> {UPDATE_LOG}'"}



def _with_default_grub(host):
    on_host(host, f"cat > /etc/default/grub <<'EOF'\n{DEBIAN_GRUB}EOF\n"
                  "cp -p /etc/default/grub /root/grub.orig")


def _cmdline(host):
    lines = [line for line in on_host(host, "cat /etc/default/grub").splitlines()
             if line.startswith("GRUB_CMDLINE_LINUX_DEFAULT=")]
    assert len(lines) == 1, lines
    return lines[0]


def test_grub_skips_in_a_container_with_the_reason(fresh_host):
    host = fresh_host()
    _with_default_grub(host)
    done = converge(host, "core.grub")
    assert done.first.changed == 0
    result, comment = states_by_id(host, "core.grub", {})["core-grub-skipped"]
    assert result is True
    assert comment == "skipped: the kernel command line belongs to the machine: this host is a " \
                      "container (systemd-nspawn)"
    on_host(host, "cmp /etc/default/grub /root/grub.orig && test ! -e /etc/default/grub.dsu-backup")


def test_grub_edits_backs_up_and_updates_only_on_change(fresh_host):
    host = fresh_host()
    _with_default_grub(host)
    pillar = {"core": {"grub": {**SWITCH, "params": {"splash": False, "mitigations": "auto"}},
                       "memory": {"strategy": "zswap"}}}
    done = converge(host, "core.grub", pillar)
    assert {p.id for p in done.first.changed_states} == {
        "core-grub-default-backup", "core-grub-default-file", "core-grub-update"}

    assert _cmdline(host) == 'GRUB_CMDLINE_LINUX_DEFAULT="quiet mitigations=auto zswap.compressor=zstd ' \
                             'zswap.enabled=1 zswap.max_pool_percent=20"'
    # Everything but that line is as it was; the backup is the previous file, byte for byte.
    on_host(host, "diff <(grep -v ^GRUB_CMDLINE_LINUX_DEFAULT= /etc/default/grub) "
                  "<(grep -v ^GRUB_CMDLINE_LINUX_DEFAULT= /root/grub.orig)")
    on_host(host, "cmp /etc/default/grub.dsu-backup /root/grub.orig")
    assert on_host(host, "stat -c %a /etc/default/grub").strip() == "644"
    # Three runs (apply, test=True, re-apply): the update command ran once.
    assert on_host(host, f"cat {UPDATE_LOG}").splitlines() == ["ran"]

    # A later change backs up the edited file and runs the update once more.
    on_host(host, "cp -p /etc/default/grub /root/grub.edited")
    pillar["core"]["grub"]["params"]["nosmt"] = True
    again = apply_and_summarize(host, roster_path(lab.lab_dir()), "core.grub", pillar=pillar)
    assert again.success and again.changed == 3, again.changed_states
    assert _cmdline(host).endswith(' nosmt"')
    on_host(host, "cmp /etc/default/grub.dsu-backup /root/grub.edited")
    assert on_host(host, f"cat {UPDATE_LOG}").splitlines() == ["ran", "ran"]


def test_grub_conflict_fails_naming_both_sources_and_leaves_the_file(fresh_host):
    host = fresh_host()
    _with_default_grub(host)
    pillar = {"core": {"grub": {**SWITCH, "params": {"zswap.enabled": 0}},
                       "memory": {"strategy": "zswap"}}}
    run = apply_and_summarize(host, roster_path(lab.lab_dir()), "core.grub", pillar=pillar)
    assert not run.success and run.changed == 0
    (failed,) = run.failed_states
    assert failed.id == "core-grub-cmdline-conflict"
    assert "zswap.enabled" in failed.comment
    assert "pillar core:grub:params" in failed.comment and "core.memory (strategy zswap)" in failed.comment
    on_host(host, f"cmp /etc/default/grub /root/grub.orig && test ! -e /etc/default/grub.dsu-backup "
                  f"&& test ! -e {UPDATE_LOG}")
