"""The pure logic of the kernelcmdline execution module: merge, conflicts, parse, render, edit."""

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.saltmods import load

kc = load("_modules", "kernelcmdline")

DEBIAN_DEFAULT_GRUB = """\
# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.

GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX=""
"""


def test_merge_combines_sources_and_normalises_values():
    merged = kc.merge({"pillar": {"quiet": True, "mitigations": "auto", "splash": False},
                       "core.memory": {"zswap.enabled": 1, "quiet": True}})
    assert merged["conflicts"] == []
    assert merged["params"] == {"quiet": True, "mitigations": "auto", "splash": None, "zswap.enabled": "1"}


def test_merge_reports_a_conflict_naming_both_sources():
    merged = kc.merge({"core.grub params": {"zswap.enabled": 0},
                       "core.memory (strategy zswap)": {"zswap.enabled": 1}})
    (conflict,) = merged["conflicts"]
    assert conflict.startswith("conflict: kernel parameter zswap.enabled")
    assert "core.grub params" in conflict and "core.memory (strategy zswap)" in conflict


def test_removal_against_a_value_is_a_conflict():
    assert kc.merge({"a": {"quiet": None}, "b": {"quiet": True}})["conflicts"]


def test_parse_keeps_order_flags_and_values():
    assert kc.parse("quiet  zswap.enabled=1 console=ttyS0,115200") == [
        ["quiet", True], ["zswap.enabled", "1"], ["console", "ttyS0,115200"]]


def test_render_replaces_in_place_removes_and_appends_sorted():
    line = kc.render("quiet splash zswap.enabled=0 zswap.enabled=0",
                     {"splash": False, "zswap.enabled": 1, "b": True, "a": "x"})
    assert line == "quiet zswap.enabled=1 a=x b"
    # Applying the same parameters again changes nothing.
    assert kc.render(line, {"splash": None, "zswap.enabled": "1", "b": True, "a": "x"}) == line


def test_render_rejects_shell_metacharacters():
    with pytest.raises(CommandExecutionError):
        kc.render("", {"init": "$(reboot)"})


def test_current_reads_the_last_assignment():
    assert kc.current(DEBIAN_DEFAULT_GRUB) == "quiet"
    assert kc.current("GRUB_CMDLINE_LINUX_DEFAULT='a b'\nGRUB_CMDLINE_LINUX_DEFAULT=\"c\"\n") == "c"
    assert kc.current("# GRUB_CMDLINE_LINUX_DEFAULT=x\n") == ""
    with pytest.raises(CommandExecutionError):
        kc.current('GRUB_CMDLINE_LINUX_DEFAULT="$EXTRA quiet"\n')


def test_edit_touches_only_the_cmdline_and_is_idempotent():
    params = {"zswap.enabled": 1, "zswap.compressor": "zstd"}
    once = kc.edit(DEBIAN_DEFAULT_GRUB, params)
    assert 'GRUB_CMDLINE_LINUX_DEFAULT="quiet zswap.compressor=zstd zswap.enabled=1"\n' in once
    assert once.replace(kc.VARIABLE + '="quiet zswap.compressor=zstd zswap.enabled=1"',
                        kc.VARIABLE + '="quiet"') == DEBIAN_DEFAULT_GRUB
    assert kc.edit(once, params) == once
    # Nothing to change: the text comes back byte for byte.
    assert kc.edit(DEBIAN_DEFAULT_GRUB, {"quiet": True}) == DEBIAN_DEFAULT_GRUB


def test_edit_appends_an_assignment_when_there_is_none():
    edited = kc.edit("GRUB_TIMEOUT=5", {"quiet": True})
    assert edited == 'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\n'


def test_edit_file_reads_the_file_and_writes_nothing(tmp_path):
    path = tmp_path / "grub"
    path.write_text(DEBIAN_DEFAULT_GRUB)
    assert 'GRUB_CMDLINE_LINUX_DEFAULT="quiet nosmt"' in kc.edit_file(str(path), {"nosmt": True})
    assert path.read_text() == DEBIAN_DEFAULT_GRUB
    with pytest.raises(CommandExecutionError):
        kc.edit_file(str(tmp_path / "absent"), {})
