{#- The deploy path of `dsu deploy`, run by a salt-master over its minions:

      salt-run state.orchestrate orch.production_deploy pillar='dsu_deploy: {targets: [web1, web2]}'

    Per target, one chain: modules synced -> preflight (state.sls preflight test=True) ->
    highstate -> health gate (ops.health_check with the health_json returner) -> event
    dsu/deploy/<host>/complete, which reactor/master.d/health.conf answers. Requisites stay
    inside a chain, so a target that fails a step stops only its own chain (a target failing
    preflight is never changed) and the other targets go on. The orchestration fails when any
    chain fails, and a failed chain announces dsu/deploy/<host>/failed instead.
    Chains run one after another (state order), a target's highstate at a time.

    Pillar (the orchestration's own: pillar= on the command line, or the master's pillar):
      dsu_deploy:targets  a list of minion ids (each a plain host name, no globs, no duplicates)
      dsu_deploy:run_id   optional, names the health run on every target (a directory name);
                          default deploy-<UTC time>
    Anything else in them refuses the whole run before any target is touched: a typo must not
    deploy the wrong set. See docs/deployment/MASTER_DEPLOY.md. -#}
{%- set HOST = "^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$" %}
{%- set RUN_ID = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$" %}
{%- set deploy = pillar.get("dsu_deploy") %}
{%- set deploy = deploy if deploy is mapping else {} %}
{%- set targets = deploy.get("targets") %}
{%- set problems = [] %}
{%- if targets is string or targets is mapping or targets is not sequence or not targets %}
{%-   do problems.append("pillar dsu_deploy:targets must be a non-empty list of minion ids, not "
                         ~ (targets | string | truncate(60))) %}
{%- else %}
{%-   for host in targets %}
{%-     if not (host is string and host is match(HOST) and "\n" not in host) %}
{%-       do problems.append("dsu_deploy:targets: " ~ (host | string | truncate(60))
                             ~ " is not a plain minion id") %}
{%-     elif targets[:loop.index0].count(host) %}
{%-       do problems.append("dsu_deploy:targets: " ~ host ~ " is listed twice") %}
{%-     endif %}
{%-   endfor %}
{%- endif %}
{%- set run_id = deploy.get("run_id") %}
{#- A run id such as 20261201 reaches pillar as a number when unquoted on the command line. #}
{%- set run_id = run_id | string if run_id is integer else run_id %}
{%- if run_id is none %}
{#-   The master's UTC time, as health.check names a run: hosts of one deploy share its run. #}
{%-   set now = salt["system.get_system_date_time"]("+0000") %}
{%-   set run_id = "deploy-" ~ now | replace("-", "") | replace(":", "") | replace(" ", "T") ~ "Z" %}
{%- elif not (run_id is string and run_id is match(RUN_ID) and "\n" not in run_id) %}
{%-   do problems.append("pillar dsu_deploy:run_id must be 1-64 letters, digits, '.', '_' or '-', "
                         ~ "starting with a letter or digit, not " ~ (run_id | string | truncate(60))) %}
{%- endif %}

{%- if problems %}

production-deploy-pillar-invalid:
  test.fail_without_changes:
    - name: pillar dsu_deploy
    - comment: {{ ("nothing deployed: " ~ problems | join("; ")) | yaml_dquote }}
{%- else %}
{%-   set gate_pillar = {"health_check": dict(run_id=run_id, fail_on_mandatory=true)} %}
{%-   for host in targets %}
{%-     set target = [host] | json %}
{%-     set announced = {"host": host, "run_id": run_id, "orchestration": "orch.production_deploy"} %}

{#- The project's modules, states and the health_json returner: preflight and the gate need
    them, and a minion that never synced has none. Every step expects its minion to answer: a
    target that is down or unknown fails its chain instead of passing with no return. #}
production-deploy-{{ host }}-modules-synced:
  salt.function:
    - name: saltutil.sync_all
    - tgt: {{ target }}
    - tgt_type: list
    - expect_minions: True

production-deploy-{{ host }}-preflight-passed:
  salt.state:
    - tgt: {{ target }}
    - tgt_type: list
    - sls: preflight
    - test: True
    - expect_minions: True
    - require:
      - salt: production-deploy-{{ host }}-modules-synced

production-deploy-{{ host }}-highstate-applied:
  salt.state:
    - tgt: {{ target }}
    - tgt_type: list
    - highstate: True
    - expect_minions: True
    - require:
      - salt: production-deploy-{{ host }}-preflight-passed

{#- The gate state of the production profile's highstate, run here whatever the host's profile,
    failing on any mandatory failure (the summary's overall_ok) even where the pillar relaxes
    fail_on_mandatory: "complete" means healthy. The returner files the summary on the host
    under the deploy's run id. #}
production-deploy-{{ host }}-health-gate-passed:
  salt.state:
    - tgt: {{ target }}
    - tgt_type: list
    - sls: ops.health_check
    - pillar: {{ gate_pillar | json }}
    - ret: health_json
    - expect_minions: True
    - require:
      - salt: production-deploy-{{ host }}-highstate-applied

production-deploy-{{ host }}-complete-announced:
  salt.runner:
    - name: event.send
    - tag: {{ ("dsu/deploy/" ~ host ~ "/complete") | json }}
    - data: {{ dict(announced, result="success") | json }}
    - require:
      - salt: production-deploy-{{ host }}-health-gate-passed

{#- onfail is any-of: one event whichever step failed (the orchestration's return names it). #}
production-deploy-{{ host }}-failure-announced:
  salt.runner:
    - name: event.send
    - tag: {{ ("dsu/deploy/" ~ host ~ "/failed") | json }}
    - data: {{ dict(announced, result="failure") | json }}
    - onfail:
      - salt: production-deploy-{{ host }}-modules-synced
      - salt: production-deploy-{{ host }}-preflight-passed
      - salt: production-deploy-{{ host }}-highstate-applied
      - salt: production-deploy-{{ host }}-health-gate-passed
{%-   endfor %}
{%- endif %}
