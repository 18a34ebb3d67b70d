{#- core.grub: kernel command-line parameters from pillar and from other roles (core.memory),
    checked for conflicts, written to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub with a
    backup of the previous file; update-grub runs only when the file changed. -#}
{%- from "core/grub/map.jinja" import grub with context %}
{%- from "core/memory/map.jinja" import memory with context %}
{%- from "core/libskip.jinja" import skip with context %}
{%- from "core/libhost.jinja" import host with context %}
{%- set update_exe = grub.update_command.split()[0] %}

{%- if host.container and not grub.allow_container %}
{{ skip("core-grub-skipped",
        "the kernel command line belongs to the machine: this host is a container ("
        ~ host.container ~ ")") }}
{%- elif not salt["file.file_exists"](grub.default_file) %}
{{ skip("core-grub-skipped", "no GRUB on this host: " ~ grub.default_file ~ " does not exist") }}
{%- elif not salt["file.access"](update_exe, "x") %}
{{ skip("core-grub-skipped", "no GRUB on this host: " ~ update_exe ~ " is not executable") }}
{%- else %}
{%-   set merged = salt["kernelcmdline.merge"]({
        "pillar core:grub:params": grub.params,
        "core.memory (strategy " ~ memory.effective_strategy ~ ")": memory.kernel_params,
      }) %}
{%-   if merged.conflicts %}

{%-     set message = merged.conflicts | join("; ") ~ "; " ~ grub.default_file ~ " left unchanged" %}

core-grub-cmdline-conflict:
  test.fail_without_changes:
    - name: {{ message | json }}
    - comment: {{ message | json }}
{%-   else %}

core-grub-default-backup:
  file.copy:
    - name: {{ grub.backup_file }}
    - source: {{ grub.default_file }}
    - force: True
    - preserve: True
    # Runs only when the file below is about to change, just before it does.
    - prereq:
      - file: core-grub-default-file

core-grub-default-file:
  file.managed:
    - name: {{ grub.default_file }}
    - contents: {{ salt["kernelcmdline.edit_file"](grub.default_file, merged.params) | json }}
    - user: root
    - group: root
    - mode: '0644'

core-grub-update:
  cmd.run:
    - name: {{ grub.update_command | json }}
    - onlyif: test -x {{ update_exe }}
    - onchanges:
      - file: core-grub-default-file
{%-   endif %}
{%- endif %}
