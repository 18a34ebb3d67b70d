{#- core.systemd: systemd manager settings via a drop-in (daemon-reload only on change) and
    systemd-resolved. The persistent journal and journald's settings belong to core.logging. -#}
{%- from tpldir ~ "/map.jinja" import systemd with context %}
{%- from "core/libini.jinja" import ini_section with context %}
{%- from "core/libskip.jinja" import skip with context %}
{%- from "core/libhost.jinja" import host with context %}
{%- set init = host.init %}
{%- if init != "systemd" %}
{{ skip("core-systemd-skipped", "the init system (PID 1) is " ~ init ~ ", not systemd") }}
{%- else %}

core-systemd-packages-installed:
  pkg.installed:
    - pkgs: {{ systemd.packages | json }}
    - aggregate: True

core-systemd-manager-dropin:
  file.managed:
    - name: {{ systemd.manager.dropin }}
    - makedirs: True
    - user: root
    - group: root
    - mode: '0644'
    - contents: |
        # Managed by deploy-system-unified (core.systemd).
        {{ ini_section("Manager", systemd.manager.settings) | indent(8) }}

# systemd re-reads system.conf.d on daemon-reload; nothing runs while the drop-in is unchanged.
core-systemd-daemon-reloaded:
  module.run:
    - service.systemctl_reload: []
    - onchanges:
      - file: core-systemd-manager-dropin
{%-   if systemd.resolved.enabled %}

core-systemd-upstream-dns-kept:
  upstream_dns.kept:
    - name: {{ systemd.resolved.upstream_dropin }}
    - servers: {{ systemd.resolved.dns | json }}
    - record: {{ systemd.resolved.dns_record }}
    # Before the package transaction: installing systemd-resolved replaces a static resolv.conf
    # (the provider's servers) with its stub.
    - order: 1

core-systemd-resolved-dropin:
  file.managed:
    - name: {{ systemd.resolved.dropin }}
    - makedirs: True
    - user: root
    - group: root
    - mode: '0644'
    - contents: |
        # Managed by deploy-system-unified (core.systemd).
        {{ ini_section("Resolve", systemd.resolved.settings) | indent(8) }}

core-systemd-resolved-running:
  service.running:
    - name: {{ systemd.resolved.service }}
    - enable: True
    - require:
      - pkg: core-systemd-packages-installed
    - watch:
      - file: core-systemd-resolved-dropin
      - upstream_dns: core-systemd-upstream-dns-kept
{%-   else %}
{{ skip("core-systemd-resolved-skipped", "systemd-resolved is disabled (core:systemd:resolved:enabled)") }}
{%-   endif %}
{%- endif %}
