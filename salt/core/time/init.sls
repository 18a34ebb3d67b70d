{#- core.time: chrony installed, configured (sources from pillar, secure defaults), enabled,
    running, restarted only on change, and its synchronisation state verified. In a container
    the clock belongs to the machine: chronyd runs with -x (tracks its sources, never sets the
    clock) and the unit's CAP_SYS_TIME condition is lifted. -#}
{%- from tpldir ~ "/map.jinja" import time with context %}
{%- from "core/libskip.jinja" import skip with context %}
{%- from "core/libhost.jinja" import host with context %}
{%- set container = host.container %}

core-time-packages-installed:
  pkg.installed:
    - pkgs: {{ time.packages | json }}
    - aggregate: True

core-time-chrony-sources:
  file.managed:
    - name: {{ time.sources_file }}
    - user: root
    - group: root
    - mode: '0644'
    - contents: |
        # Managed by deploy-system-unified (core.time).
{%- for server in time.servers %}
        server {{ server }} {{ time.source_options }}
{%- endfor %}
{%- for pool in time.pools %}
        pool {{ pool }} {{ time.source_options }}
{%- endfor %}
    - require:
      - pkg: core-time-packages-installed

core-time-chrony-settings:
  file.managed:
    - name: {{ time.conf_file }}
    - user: root
    - group: root
    - mode: '0644'
    - contents: |
        # Managed by deploy-system-unified (core.time).
{%- for key, value in time.settings | dictsort %}
{%-   if value is sameas true %}
        {{ key }}
{%-   elif value is not sameas false %}
        {{ key }} {{ value }}
{%-   endif %}
{%- endfor %}
    - require:
      - pkg: core-time-packages-installed

core-time-chrony-daemon-options:
  file.managed:
    - name: {{ time.defaults_file }}
    - user: root
    - group: root
    - mode: '0644'
    - contents: |
        # Managed by deploy-system-unified (core.time): options for chronyd.
        DAEMON_OPTS="{{ time.daemon_opts }}{{ " -x" if container else "" }}"
    - require:
      - pkg: core-time-packages-installed

core-time-chrony-container-dropin:
{%- if container %}
  file.managed:
    - name: {{ time.container_dropin }}
    - makedirs: True
    - user: root
    - group: root
    - mode: '0644'
    - contents: |
        # Managed by deploy-system-unified (core.time): in a container chronyd runs with -x and
        # needs no CAP_SYS_TIME, so the unit's capability condition is reset.
        [Unit]
        ConditionCapability=

{{ skip("core-time-clock-control-skipped",
        "in a " ~ container ~ " container the clock belongs to the machine (no CAP_SYS_TIME): "
        ~ "chronyd tracks its sources with -x and never sets the clock") }}
{%- else %}
  file.absent:
    - name: {{ time.container_dropin }}
{%- endif %}

core-time-systemd-reloaded:
  module.run:
    - service.systemctl_reload: []
    - onchanges:
      - file: core-time-chrony-container-dropin

core-time-chrony-running:
  service.running:
    - name: {{ time.service }}
    - enable: True
    - require:
      - module: core-time-systemd-reloaded
    - watch:
      - file: core-time-chrony-sources
      - file: core-time-chrony-settings
      - file: core-time-chrony-daemon-options
      - file: core-time-chrony-container-dropin

# Reports unsynchronised as a warning in its comment, not as a failure.
core-time-synchronisation-verified:
  timesync.verified:
    - name: chronyd
    - require:
      - service: core-time-chrony-running
