{#- The provider and the required secret keys, visible in pillar (secrets:provider,
    secrets:required) for preflight and the states. #}
{%- import_yaml "secrets/provider.yaml" as config %}
secrets:
  provider: {{ config.provider | json }}
  required: {{ (config.required or []) | json }}
