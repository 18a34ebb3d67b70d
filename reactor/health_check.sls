{#- Reaction to dsu/deploy/<host>/complete and salt/minion/<id>/start (reactor/master.d/health.conf):
    run health.check on that one minion and hand its summary to the health_json returner there.
    On a minion start the orchestration salt/orch/health_after_start.sls does it, syncing the
    project's modules first: a minion may start before it has ever synced them.

    What is refused (rendered as no reaction, with a warning in the master log):
    - a host that is not a plain host name (the schema's host pattern): the tag is the only
      source of a deploy event's host, and a name such as "*" must not reach a target;
    - a deploy event sent by one minion about another host. A minion's event carries its id,
      which the master has checked against the minion's key; events from the master's side
      (salt-run event.send) carry none and may name any minion. health.check only reads, so
      this keeps hosts from triggering work on each other rather than guarding a secret.
    The target is a one-element list matched as a list, so even a name that got through could
    only ever be a literal minion id.

    The run id comes from the event (a key run_id) when it is a valid directory name; otherwise
    health.check defaults it (pillar health_check:run_id, else the UTC start time). #}
{%- set HOST = '^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$' %}
{%- set RUN_ID = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' %}
{%- set parts = tag.split('/') %}
{#- Events from a minion arrive as {id, cmd: _minion_event, data: <what it sent>, ...}. #}
{%- set sender = data.get('id') if data.get('cmd') == '_minion_event' else none %}
{%- set payload = data.get('data') if sender else data %}
{%- set host = none %}
{%- if parts | length == 4 and parts[:2] == ['dsu', 'deploy'] and parts[3] == 'complete' %}
  {%- if sender is none or sender == parts[2] %}
    {%- set host = parts[2] %}
  {%- endif %}
{%- elif parts | length == 4 and parts[:2] == ['salt', 'minion'] and parts[3] == 'start' %}
  {%- if sender == parts[2] %}
    {%- set host = sender %}
  {%- endif %}
{%- endif %}
{%- set run_id = payload.get('run_id') if payload is mapping else none %}

{%- if not (host is string and host is match(HOST) and '\n' not in host) %}
  {%- do salt['log.warning']('health reactor: no health check for event ' ~ tag ~ ' (sender '
                             ~ sender ~ '): not a plain host name, or not the sender\'s own') %}
{%- else %}
  {%- if run_id is not none and not (run_id is string and run_id is match(RUN_ID)
                                     and '\n' not in run_id) %}
    {%- do salt['log.warning']('health reactor: ignoring invalid run_id ' ~ run_id ~ ' of event '
                               ~ tag ~ '; health.check names the run') %}
    {%- set run_id = none %}
  {%- endif %}

  {%- if parts[:2] == ['salt', 'minion'] %}
{#- A (re)started minion may never have synced: the orchestration syncs, then checks. #}

health-check-{{ host }}:
  runner.state.orchestrate:
    - args:
      - mods: orch.health_after_start
      - pillar: {{ {"dsu_health_host": host} | json }}
  {%- else %}

health-check-{{ host }}:
  local.health.check:
    - tgt: {{ [host] | json }}
    - tgt_type: list
    - ret: health_json
    {%- if run_id %}
    - args:
      - run_id: {{ run_id | json }}
    {%- endif %}
  {%- endif %}
{%- endif %}
