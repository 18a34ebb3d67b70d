{#- core.hardware_support: hardware and firmware facts on record, microcode on bare metal only,
    the RTC in UTC, and warnings (never failures) for missing soft requirements. -#}
{%- from "core/hardware_support/map.jinja" import hardware_support as hw with context %}
{%- from "core/libskip.jinja" import skip with context %}
{%- from "core/libhost.jinja" import host with context %}
{%- set vendor = host.cpu_vendor %}
{%- set flags = grains.get("cpu_flags", []) %}
{%- set cpu_flags = {} %}
{%- for flag in hw.cpu_flags %}
{%-   do cpu_flags.update({flag: flag in flags}) %}
{%- endfor %}

core-hardware_support-facts-recorded:
  file.serialize:
    - name: {{ hw.facts_file }}
    - serializer: json
    - dataset: {{ {
        "boot_mode": host.boot_mode,
        "container": host.container,
        "cpu_arch": grains.get("cpuarch", ""),
        "cpu_flags": cpu_flags,
        "cpu_model": grains.get("cpu_model", ""),
        "cpu_vendor": vendor,
        "virtual": host.virtual,
        "virtual_subtype": host.virtual_subtype,
      } | json }}
    - user: root
    - group: root
    - mode: '0644'
    - makedirs: True

{%- if host.container %}
{{ skip("core-hardware_support-microcode-skipped",
        "no microcode in a container (" ~ host.container ~ "): the machine's kernel loads it") }}
{%- elif host.virtual != "physical" %}
{{ skip("core-hardware_support-microcode-skipped",
        "no microcode on a virtual machine (" ~ host.virtual ~ "): the hypervisor's host loads it") }}
{%- elif vendor not in hw.microcode_packages %}
{{ skip("core-hardware_support-microcode-skipped", "no microcode package for CPU vendor " ~ vendor) }}
{%- else %}

core-hardware_support-packages:
  pkg.installed:
    - pkgs: {{ [hw.microcode_packages[vendor]] | json }}
    - aggregate: True
{%- endif %}

{%- if not hw.rtc_utc %}
{{ skip("core-hardware_support-rtc-utc-skipped", "core:hardware_support:rtc_utc is off") }}
{%- elif host.container %}
{{ skip("core-hardware_support-rtc-utc-skipped",
        "no RTC in a container (" ~ host.container ~ "): the clock belongs to the machine") }}
{%- elif host.init != "systemd" %}
{{ skip("core-hardware_support-rtc-utc-skipped", "timedatectl needs systemd; PID 1 is " ~ host.init) }}
{%- else %}

core-hardware_support-rtc-utc:
  cmd.run:
    - name: timedatectl set-local-rtc 0
    - unless: test "$(timedatectl show --property=LocalRTC --value)" = no
{%- endif %}

{%- for flag, why in hw.soft_requirements | dictsort %}
{%-   if flag in flags %}
{%-     set note = "ok: CPU has " ~ flag %}
{%-   else %}
{%-     set note = "warning: CPU lacks " ~ flag ~ " (" ~ why ~ "); continuing without it" %}
{%-   endif %}

core-hardware_support-cpu-{{ flag }}:
  test.configurable_test_state:
    - name: {{ note | json }}
    - changes: False
    - result: True
    - comment: {{ note | json }}
{%- endfor %}
