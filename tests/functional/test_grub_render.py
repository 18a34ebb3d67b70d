"""core.grub renders its skips, the edited /etc/default/grub, and a conflict as a failing state;
bad pillar refuses the render."""

import pytest

VM = {"container": "", "virtual": "kvm"}


def _pillar(tmp_path, extra="", update="/bin/true"):
    default = tmp_path / "grub"
    default.write_text('GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet splash"\nGRUB_CMDLINE_LINUX=""\n')
    return f"core:\n  grub:\n    default_file: {default}\n    update_command: {update}\n{extra}"


def test_container_is_skipped_with_the_reason(render_sls, tmp_path):
    states = render_sls("core.grub", _pillar(tmp_path),
                        facts={"container": "systemd-nspawn", "virtual": "container"})
    assert list(states) == ["core-grub-skipped"]
    assert "belongs to the machine" in states["core-grub-skipped"]["test"][0]["name"]


def test_no_grub_file_or_no_update_command_is_skipped(render_sls, tmp_path):
    states = render_sls("core.grub", f"core: {{grub: {{default_file: {tmp_path}/absent}}}}", facts=VM)
    assert "does not exist" in states["core-grub-skipped"]["test"][0]["name"]
    states = render_sls("core.grub", _pillar(tmp_path, update="/nonexistent/update-grub"), facts=VM)
    assert "is not executable" in states["core-grub-skipped"]["test"][0]["name"]


def test_vm_gets_the_merged_line_a_backup_and_a_guarded_update(render_sls, tmp_path):
    pillar = _pillar(tmp_path, "    params: {splash: false, mitigations: auto}\n"
                               "  memory: {strategy: zswap}\n")
    states = render_sls("core.grub", pillar, facts=VM)
    managed = states["core-grub-default-file"]["file"]
    contents = next(a["contents"] for a in managed if isinstance(a, dict) and "contents" in a)
    assert 'GRUB_CMDLINE_LINUX_DEFAULT="quiet mitigations=auto zswap.compressor=zstd zswap.enabled=1 ' \
           'zswap.max_pool_percent=20"\n' in contents
    backup = states["core-grub-default-backup"]["file"]
    assert {"prereq": [{"file": "core-grub-default-file"}]} in backup
    update = states["core-grub-update"]["cmd"]
    assert {"onchanges": [{"file": "core-grub-default-file"}]} in update
    assert {"onlyif": "test -x /bin/true"} in update


def test_conflict_between_pillar_and_memory_fails_without_touching_the_file(render_sls, tmp_path):
    pillar = _pillar(tmp_path, "    params: {zswap.enabled: 0}\n  memory: {strategy: zswap}\n")
    states = render_sls("core.grub", pillar, facts=VM)
    assert list(states) == ["core-grub-cmdline-conflict"]
    comment = states["core-grub-cmdline-conflict"]["test"][0]["name"]
    assert "pillar core:grub:params" in comment and "core.memory (strategy zswap)" in comment


@pytest.mark.parametrize(("grub", "problems"), [
    # a value breaking out of GRUB_CMDLINE_LINUX_DEFAULT="..." and a key carrying two parameters
    ("{params: {console: 'tty0\" init=/bin/sh \"', 'quiet splash': true}}",
     ["core:grub:params:console: is 'tty0\" init=/bin/sh \"', must be true, false, null",
      "core:grub:params:quiet splash: the key is 'quiet splash', must be a kernel parameter name"]),
    ("{update_command: update-grub, allow_container: 'yes'}",
     ["core:grub:update_command: is 'update-grub', must be a command line",
      "core:grub:allow_container: is 'yes', must be true or false"]),
    ("{params: [quiet]}", ["core:grub:params: is a list, must be a mapping"]),
])
def test_bad_pillar_refuses_the_render_naming_the_key(refused_render, grub, problems):
    message = refused_render("core.grub", f"core: {{grub: {grub}}}\n", facts=VM, contract="core/grub")
    assert f"{len(problems)} parameter(s) break" in message
    for problem in problems:
        assert problem in message, (problem, message)
