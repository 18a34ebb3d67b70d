{#- Orchestration the health reactor runs when a minion (re)starts (reactor/health_check.sls):
    sync the project's modules and returner to that minion first, then health.check with the
    health_json returner. A minion that has never synced has no health module yet, so a plain
    reactor job would only answer "'health.check' is not available"; reactor jobs have no order,
    an orchestration does.

    Pillar: dsu_health_host, one minion id (validated again here: this SLS can also be run by
    hand with salt-run state.orchestrate). -#}
{%- set host = pillar.get("dsu_health_host", "") %}
{%- if not (host is string and host is match("^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")
            and "\n" not in host) %}

health-after-start-host-invalid:
  test.fail_without_changes:
    - name: {{ ("pillar dsu_health_host must be one minion id, not " ~ host | string) | yaml_dquote }}
{%- else %}

health-after-start-modules-synced:
  salt.function:
    - name: saltutil.sync_all
    - tgt: {{ [host] | json }}
    - tgt_type: list

health-after-start-checked:
  salt.function:
    - name: health.check
    - tgt: {{ [host] | json }}
    - tgt_type: list
    - ret: health_json
    - require:
      - salt: health-after-start-modules-synced
{%- endif %}
