{#- core.updates: unattended-upgrades installed, configured (periodic runs, origins, reboot
    policy) and enabled; needrestart restarts what upgrades leave running on old libraries. -#}
{%- from tpldir ~ "/map.jinja" import updates with context %}

core-updates-packages-installed:
  pkg.installed:
    - pkgs: {{ updates.packages | json }}
    - aggregate: True

core-updates-periodic-config:
  file.managed:
    - name: {{ updates.periodic_file }}
    - user: root
    - group: root
    - mode: '0644'
    - contents: |
        // Managed by Salt (core.updates); local edits are overwritten.
{%- for key, value in updates.periodic | dictsort %}
        APT::Periodic::{{ key }} "{{ value }}";
{%- endfor %}
    - require:
      - pkg: core-updates-packages-installed

core-updates-unattended-upgrades-config:
  file.managed:
    - name: {{ updates.config_file }}
    - user: root
    - group: root
    - mode: '0644'
    - contents: |
        // Managed by Salt (core.updates); local edits are overwritten.
        // Read after 50unattended-upgrades: the origins list replaces the package's list.
        #clear Unattended-Upgrade::Origins-Pattern;
        Unattended-Upgrade::Origins-Pattern {
{%- for pattern in updates.origins_patterns %}
                "{{ pattern }}";
{%- endfor %}
        };
        Unattended-Upgrade::Automatic-Reboot "{{ updates.automatic_reboot | string | lower }}";
        Unattended-Upgrade::Automatic-Reboot-Time "{{ updates.reboot_time }}";
    - require:
      - pkg: core-updates-packages-installed

core-updates-needrestart-mode:
  file.managed:
    - name: {{ updates.needrestart_file }}
    - user: root
    - group: root
    - mode: '0644'
    - contents: |
        # Managed by Salt (core.updates); local edits are overwritten.
        $nrconf{restart} = '{{ updates.needrestart_mode }}';
    - require:
      - pkg: core-updates-packages-installed
{%- for unit in updates.units %}

core-updates-unit-{{ unit }}-running:
  service.running:
    - name: {{ unit }}
    - enable: True
    - require:
      - file: core-updates-periodic-config
      - file: core-updates-unattended-upgrades-config
{%- endfor %}
