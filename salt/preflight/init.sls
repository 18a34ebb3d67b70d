{#- Preflight: read-only assertions on this host's compiled pillar, before any change. Not part of
    the highstate; `dsu preflight <host>` applies it (after its operator-side checks) and the
    pillar failing to compile fails it too. Changes nothing, with or without test=True.
    Every role's merged parameters are checked against its contract here, all roles at once (a
    role's own render refuses on the first bad one); see docs/contracts.md.
    The host's deployment profile's contract (profiles/<profile>.yaml, docs/profiles.md) is
    checked here too, when the host is in exactly one known profile: each key a role's pillar
    key (merged parameters, as above) or a raw pillar key. Whether it is in exactly one is the
    preflight module's check (preflight.profile).
    Pillar preflight:file_values (default True): also require every value core:secrets:files
    names. See docs/preflight.md. #}
{%- from "core/libparams.jinja" import role_parameters with context %}
{#- One list per area: core/roles.yaml, security/parts.yaml (pillar security:<part>). #}
{%- import_yaml "core/roles.yaml" as core_roles %}
{%- set roles = [] %}
{%- for role in core_roles %}
{%-   do roles.append(["core/" ~ role, role, ""]) %}
{%- endfor %}
{%- do roles.append(["ops/health_check", "health_check", "health_check"]) %}
{%- import_yaml "security/parts.yaml" as security_parts %}
{%- for part in security_parts %}
{%-   do roles.append(["security/" ~ part, part, "security:" ~ part]) %}
{%- endfor %}
{%- set parameter_problems = [] %}
{%- set merged = {} %}
{%- for role_dir, role, pillar_key in roles %}
{%-   set parameters = {} %}
{%-   do role_parameters(role_dir, role, parameters, parameter_problems, pillar_key) %}
{%-   do merged.update({pillar_key or "core:" ~ role: parameters}) %}
{%- endfor %}

{#- The profile's contract, when the host is in that one profile alone: deploy:profile is a
    profile with a contract file, and no list of deploy/profiles.yaml names another one. #}
{%- set profile = salt["pillar.get"]("deploy:profile", "") %}
{%- set matches = salt["pillar.get"]("deploy:profile_matches", []) %}
{%- set profile_problems = [] %}
{%- if profile is string and profile.isalpha() and matches in ([], [profile]) %}
{%-   load_yaml as contract %}
{%-     include "preflight/profiles/" ~ profile ~ ".yaml" ignore missing %}
{%-   endload %}
{%-   for key, spec in (contract or {}) | dictsort %}
{%-     set value = merged[key] if key in merged else salt["pillar.get"](key, {}) %}
{%-     for problem in salt["params.check"](spec, value, key) %}
{%-       do profile_problems.append("deploy:profile " ~ profile ~ ": " ~ problem) %}
{%-     endfor %}
{%-   endfor %}
{%- endif %}

preflight-pillar:
  preflight.passed:
    - name: pillar preflight
    - file_values: {{ salt["pillar.get"]("preflight:file_values", True) | json }}
    - parameter_problems: {{ parameter_problems | json }}
    - profile_problems: {{ profile_problems | json }}
