{#- Reaction to dsu/deploy/<host>/complete (reactor/master.d/health.conf): keep the host's last
    completed deploy in the master's cache, bank dsu/deploys, key <host>, so the fleet's state
    is one look away without a job to every minion:

      salt-run cache.fetch dsu/deploys web1     # {host, run_id, result, completed, announced_by}
      salt-run cache.list dsu/deploys           # every host with a recorded deploy

    Runs on the master alone (a runner), so it also records a host that is unreachable by then.
    Same rules as reactor/health_check.sls: the host is the tag's (a plain host name, never a
    glob), and a minion may only announce its own deploy; anything else records nothing, with a
    warning in the master log. Only checked values are stored, never the event's payload as
    sent: run_id and result when they are plain words, else null. #}
{%- set HOST = '^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$' %}
{%- set WORD = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' %}
{%- set parts = tag.split('/') %}
{#- Events from a minion arrive as {id, cmd: _minion_event, data: <what it sent>, ...}. #}
{%- set sender = data.get('id') if data.get('cmd') == '_minion_event' else none %}
{%- set payload = data.get('data') if sender else data %}
{%- set payload = payload if payload is mapping else {} %}
{%- set host = none %}
{%- if parts | length == 4 and parts[:2] == ['dsu', 'deploy'] and parts[3] == 'complete'
       and (sender is none or sender == parts[2]) %}
  {%- set host = parts[2] %}
{%- endif %}

{%- if not (host is string and host is match(HOST) and '\n' not in host) %}
  {%- do salt['log.warning']('deploy record: nothing recorded for event ' ~ tag ~ ' (sender '
                             ~ sender ~ '): not a plain host name, or not the sender\'s own') %}
{%- else %}
  {%- set record = {'host': host, 'completed': data.get('_stamp'),
                    'announced_by': sender or 'master'} %}
  {%- for key in ('run_id', 'result') %}
    {%- set value = payload.get(key) %}
    {%- do record.update({key: value if value is string and value is match(WORD)
                                        and '\n' not in value else none}) %}
  {%- endfor %}

deploy-record-{{ host }}:
  runner.cache.store:
    - args:
      - bank: dsu/deploys
      - key: {{ host | json }}
      - data: {{ record | json }}
{%- endif %}
