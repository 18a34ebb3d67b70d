{#- The deployment profile of this host (docs/profiles.md), from deploy/profiles.yaml:
      deploy:profile          the one profile whose list matches the minion id, else the file's
                              default; unset when two lists match or there is no default
      deploy:profile_matches  every profile whose list matches (preflight: "in no profile",
                              "in two profiles")
      deploy:fail_secure      true unless a later pillar file says otherwise
      deploy:health_checks    the health checks of each profile (deploy/health.yaml)
    Rendered first (pillar/top.sls): a host's own deploy:profile in any later file overrides it,
    and preflight refuses the host when that disagrees with a list that names it.
    A malformed profiles.yaml stops the pillar, naming the file. #}
{%- import_yaml "deploy/profiles.yaml" as assignment %}
{%- set known = ["production", "hardened", "ephemeral", "dev"] %}
{%- set assignment = {} if assignment is none else assignment %}
{%- if assignment is not mapping %}
{%-   do raise("deploy/profiles.yaml: must be a mapping of profile to a list of minion id globs") %}
{%- endif %}
{%- for name in assignment %}
{%-   if name != "default" and name not in known %}
{%-     do raise("deploy/profiles.yaml: " ~ (name | string | truncate(40)) ~ " is not a profile, must be one of "
                 ~ known | join(", ") ~ " or default") %}
{%-   endif %}
{%- endfor %}
{%- set matches = [] %}
{%- for name in known %}
{%-   set patterns = assignment.get(name) %}
{%-   if patterns is not none and (patterns is string or patterns is mapping or patterns is not sequence) %}
{%-     do raise("deploy/profiles.yaml: " ~ name ~ " must be a list of minion id globs") %}
{%-   endif %}
{%-   for pattern in patterns or [] %}
{%-     if pattern is not string or not pattern %}
{%-       do raise("deploy/profiles.yaml: " ~ name ~ " must be a list of minion id globs (strings)") %}
{%-     endif %}
{%-     if name not in matches and salt["match.glob"](pattern, minion_id=opts.id) %}
{%-       do matches.append(name) %}
{%-     endif %}
{%-   endfor %}
{%- endfor %}
{%- set default = assignment.get("default") %}
{%- if default is not none and default not in known %}
{%-   do raise("deploy/profiles.yaml: default must be one of " ~ known | join(", ") ~ " or null") %}
{%- endif %}
{%- set deploy = {"profile_matches": matches, "fail_secure": true} %}
{%- if matches | length == 1 %}
{%-   do deploy.update({"profile": matches[0]}) %}
{%- elif not matches and default is not none %}
{%-   do deploy.update({"profile": default}) %}
{%- endif %}
{#- The health checks of each profile (deploy/health.yaml); the health module takes the host's
    (deploy:profile, whichever file set it) under its own health_check pillar
    (health.check profile=True). #}
{%- import_yaml "deploy/health.yaml" as health %}
{%- do deploy.update({"health_checks": health or {}}) %}
deploy: {{ deploy | json }}
