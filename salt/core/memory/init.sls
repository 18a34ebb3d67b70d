{#- core.memory: a memory strategy (zram, zswap or none) chosen from physical swap and the workload
    profile, and sysctl tuning persisted in /etc/sysctl.d. zswap's kernel parameters reach
    /etc/default/grub through core.grub, which imports this role's map. -#}
{%- from "core/memory/map.jinja" import memory with context %}
{%- from "core/libskip.jinja" import skip with context %}
{%- from "core/libhost.jinja" import host with context %}
{%- set strategy = memory.effective_strategy %}
{%- set sysctl = memory.effective_sysctl %}

core-memory-strategy-chosen:
  test.show_notification:
    - text: {{ ("strategy " ~ strategy ~ " (configured " ~ memory.strategy ~ ", profile "
                ~ memory.profile ~ ", physical swap " ~ grains.get("swap_total", 0) ~ " MiB)")
               | yaml_dquote }}

core-memory-sysctl-file:
  file.managed:
    - name: {{ memory.sysctl_file }}
    - user: root
    - group: root
    - mode: '0644'
    - contents: |
        # Managed by Salt (core.memory, profile {{ memory.profile }}); local edits are overwritten.
{%- for key, value in sysctl | dictsort %}
        {{ key }} = {{ value }}
{%- endfor %}

{%- if host.container %}
{{ skip("core-memory-sysctl-live-skipped",
        "sysctl values not applied live: /proc/sys is read-only in a container ("
        ~ host.container ~ "); the file is in place for systemd-sysctl") }}
{%- else %}

core-memory-sysctl-live:
  cmd.run:
    - name: sysctl -q -p {{ memory.sysctl_file }}
    - unless: >-
        {%- for key, value in sysctl | dictsort %}
        {{ "&& " if not loop.first }}test "$(sysctl -n {{ key }})" = "{{ value }}"
        {%- endfor %}
    - require:
      - file: core-memory-sysctl-file
{%- endif %}

{%- if strategy == "zram" %}

core-memory-packages:
  pkg.installed:
    - pkgs: {{ [memory.zram.package] | json }}
    - aggregate: True

core-memory-zram-config:
  file.managed:
    - name: {{ memory.zram.config_file }}
    - user: root
    - group: root
    - mode: '0644'
    - contents: |
        # Managed by Salt (core.memory); read by {{ memory.zram.service }}.service.
        ALGO={{ memory.zram.algo }}
        PERCENT={{ memory.zram.percent }}
        PRIORITY={{ memory.zram.priority }}
    - require:
      - pkg: core-memory-packages

{%-   if host.container %}
{{ skip("core-memory-zram-service-skipped",
        "zramswap not started: a container has no zram device (" ~ host.container
        ~ "); the configuration is written, the unit is disabled") }}

core-memory-zram-service-disabled:
  service.disabled:
    - name: {{ memory.zram.service }}
    - require:
      - pkg: core-memory-packages

core-memory-zram-service-not-failed:
  cmd.run:
    # The package's postinst tried to start it; a unit that cannot work here must not stay failed.
    - name: systemctl reset-failed {{ memory.zram.service }}.service
    - onlyif: systemctl is-failed --quiet {{ memory.zram.service }}.service
    - require:
      - service: core-memory-zram-service-disabled
{%-   else %}

core-memory-zram-service:
  service.running:
    - name: {{ memory.zram.service }}
    - enable: True
    - watch:
      - file: core-memory-zram-config
{%-   endif %}
{%- endif %}

{%- if memory.kernel_params %}

core-memory-kernel-params-handed-to-grub:
  test.show_notification:
    - text: {{ ("kernel parameters for core.grub: " ~ (memory.kernel_params | dictsort
                | map("join", "=") | join(" "))) | yaml_dquote }}
{%- endif %}

{%- if memory.zswap_runtime %}
{%-   set sysfs = memory.zswap.sysfs_dir %}
{%-   if host.container or not salt["file.access"](sysfs ~ "/enabled", "w") %}
{{ skip("core-memory-zswap-runtime-skipped",
        "zswap runtime parameters not set: " ~ sysfs
        ~ (" is read-only in a container (" ~ host.container ~ ")" if host.container
           else " is not writable (no zswap in this kernel)")
        ~ "; the kernel command line carries them from the next boot") }}
{%-   else %}
{#-   enabled last, once compressor and pool size are in place. #}
{%-   set ordered = memory.zswap_runtime | dictsort | rejectattr(0, "equalto", "enabled") | list
                    + [["enabled", memory.zswap_runtime.enabled]] %}

core-memory-zswap-runtime:
  cmd.run:
    - name: >-
        {%- for key, value in ordered %}
        {{ "&& " if not loop.first }}echo {{ value }} > {{ sysfs }}/{{ key }}
        {%- endfor %}
    - unless: >-
        {%- for key, value in ordered %}
        {{ "&& " if not loop.first }}grep -qx {{ value }} {{ sysfs }}/{{ key }}
        {%- endfor %}
{%-   endif %}
{%- endif %}
