{#- core.entropy: an entropy daemon installed, enabled and running where the kernel needs one
    (rule in _utils/entropy_rule.py); an explicit skip where it does not. -#}
{%- from tpldir ~ "/map.jinja" import entropy with context %}
{%- from "core/libskip.jinja" import skip with context %}
{%- from "core/libhost.jinja" import host with context %}
{%- set container = host.container %}
{#- mode is one of grains.dsu_entropy's modes: the contract refuses any other. #}
{%- set plan = grains.dsu_entropy[entropy.mode] %}
{%- if not plan.daemon %}
{{ skip("core-entropy-daemon-skipped", plan.reason) }}
{%- else %}
{%-   set daemon = entropy.daemons[plan.daemon] %}

core-entropy-packages-installed:
  pkg.installed:
    - pkgs: {{ [daemon.package] | json }}
    - aggregate: True
{%-   if container and not entropy.start_in_container %}

core-entropy-{{ daemon.service }}-enabled:
  service.enabled:
    - name: {{ daemon.service }}
    - require:
      - pkg: core-entropy-packages-installed
{{ skip("core-entropy-" ~ daemon.service ~ "-start-skipped",
        "running in a container (" ~ container ~ "): the entropy pool is the machine's kernel's, "
        ~ "fed by the machine; set core:entropy:start_in_container to start " ~ daemon.service ~ " here") }}
{%-   else %}

core-entropy-{{ daemon.service }}-running:
  service.running:
    - name: {{ daemon.service }}
    - enable: True
    - require:
      - pkg: core-entropy-packages-installed
{%-   endif %}
{%- endif %}
