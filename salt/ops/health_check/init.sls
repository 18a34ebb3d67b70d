{#- Post-deploy health: run every configured check, keep the evidence on the host, fail the run
    when a mandatory check fails (pillar health_check:fail_on_mandatory, default true).
    Ordered last so it judges the host as the whole highstate left it. #}
{%- from tpldir ~ "/map.jinja" import health_check with context %}

ops-health-check-evidence-directory:
  file.directory:
    - name: {{ health_check.evidence_dir }}
    - user: root
    - group: root
    - mode: '{{ health_check.evidence_dir_mode }}'
    - makedirs: True
    - order: last

ops-health-check-gate:
  health.passing:
    - name: post-deploy health
    - evidence_dir: {{ health_check.evidence_dir }}
    - profile: {{ health_check.profile_checks | json }}
    - order: last
    - require:
      - file: ops-health-check-evidence-directory
