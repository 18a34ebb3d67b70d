{#- The host's deployment profile first (deploy/profiles.yaml; a host's own deploy:profile in any
    later file overrides it, and preflight sees when the two disagree), then plain pillar for every
    host, then the encrypted pillar of the provider chosen in secrets/provider.yaml. In dual mode
    the SOPS files come first and the GPG files last, so the legacy values stay authoritative
    until the cutover. #}
{%- import_yaml "secrets/provider.yaml" as secrets %}
{%- set order = {"gpg": ["gpg"], "dual": ["sops", "gpg"], "sops": ["sops"]} %}
{%- if secrets.provider not in order %}
{%-   do raise("secrets/provider.yaml: provider must be gpg, dual or sops, not " ~ secrets.provider) %}
{%- endif %}
{%- set targets = {"*": ["deploy", "defaults", "secrets.provider"]} %}
{%- for target, files in (secrets.targets or {}) | dictsort %}
{%-   for kind in order[secrets.provider] %}
{%-     do targets.setdefault(target, []).extend(files.get(kind) or []) %}
{%-   endfor %}
{%- endfor %}
base:
{%- for target, sls in targets.items() %}
  {{ target | json }}:
{%-   for name in sls %}
    - {{ name }}
{%-   endfor %}
{%- endfor %}
