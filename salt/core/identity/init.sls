{#- core.identity: a stable host identity (UUID), generated once, never regenerated. -#}
{%- from tpldir ~ "/map.jinja" import identity with context %}

core-identity-host-id-present:
  host_identity.present:
    - name: {{ identity.file }}
    - mode: '{{ identity.mode }}'
    - user: {{ identity.user }}
    - group: {{ identity.group }}
