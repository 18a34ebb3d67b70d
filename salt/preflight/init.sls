{#- Preflight: read-only assertions on this host's compiled pillar, before any change. Not part of
    the highstate; `dsu preflight <host>` applies it (after its operator-side checks) and the
    pillar failing to compile fails it too. Changes nothing, with or without test=True.
    Every role's merged parameters are checked against its contract here, all roles at once (a
    role's own render refuses on the first bad one); see docs/contracts.md.
    Pillar preflight:file_values (default True): also require every value core:secrets:files
    names. See docs/preflight.md. #}
{%- from "core/libparams.jinja" import role_parameters with context %}
{%- import_yaml "core/roles.yaml" as core_roles %}
{%- set roles = [] %}
{%- for role in core_roles %}
{%-   do roles.append(["core/" ~ role, role, ""]) %}
{%- endfor %}
{%- do roles.append(["ops/health_check", "health_check", "health_check"]) %}
{%- set parameter_problems = [] %}
{%- for role_dir, role, pillar_key in roles %}
{%-   do role_parameters(role_dir, role, {}, parameter_problems, pillar_key) %}
{%- endfor %}

preflight-pillar:
  preflight.passed:
    - name: pillar preflight
    - file_values: {{ salt["pillar.get"]("preflight:file_values", True) | json }}
    - parameter_problems: {{ parameter_problems | json }}
