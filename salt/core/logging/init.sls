{#- core.logging: persistent, rate-limited journald; rsyslog with optional forwarding; logrotate
    policies for the deploy system's own logs and for application logs. This role alone owns journald's drop-in and
    /var/log/journal (core.systemd leaves both alone). -#}
{%- from tpldir ~ "/map.jinja" import logging with context %}
{%- from "core/libini.jinja" import ini_section with context %}
{%- set journald = logging.journald %}
{%- set fwd = logging.forwarding %}

core-logging-packages-installed:
  pkg.installed:
    - pkgs: {{ logging.packages | json }}
    - aggregate: True

core-logging-journal-directory:
  file.directory:
    - name: {{ journald.directory }}
    - user: root
    - group: systemd-journal
    - mode: '{{ journald.directory_mode }}'

core-logging-journald-dropin:
  file.managed:
    - name: {{ journald.dropin }}
    - makedirs: True
    - user: root
    - group: root
    - mode: '0644'
    - contents: |
        # Managed by deploy-system-unified (core.logging).
        {{ ini_section("Journal", journald.settings) | indent(8) }}

core-logging-journald-running:
  service.running:
    - name: systemd-journald
    - watch:
      - file: core-logging-journald-dropin
      - file: core-logging-journal-directory

# Moves a volatile journal (/run/log/journal) to disk; nothing to do once the journal is persistent.
core-logging-journal-flushed:
  cmd.run:
    - name: journalctl --flush
    - onlyif: find /run/log/journal -name '*.journal' -print -quit | grep -q .
    - require:
      - service: core-logging-journald-running

core-logging-rsyslog-forwarding:
{%- if fwd.enabled %}
  file.managed:
    - name: {{ logging.rsyslog.forward_file }}
    - user: root
    - group: root
    - mode: '0644'
    # The rule is validated by rsyslog itself before it is put in place.
    - check_cmd: rsyslogd -N1 -f
    - contents: |
        # Managed by deploy-system-unified (core.logging): forward everything to {{ fwd.target }}.
{%-   if fwd.protocol == "tcp" %}
        *.* action(type="omfwd" target="{{ fwd.target }}" port="{{ fwd.port }}" protocol="tcp"
                   queue.type="LinkedList" queue.filename="dsu-forward" queue.saveOnShutdown="on"
                   action.resumeRetryCount="-1")
{%-   else %}
        *.* action(type="omfwd" target="{{ fwd.target }}" port="{{ fwd.port }}" protocol="udp")
{%-   endif %}
    - require:
      - pkg: core-logging-packages-installed
{%- else %}
  file.absent:
    - name: {{ logging.rsyslog.forward_file }}
{%- endif %}

core-logging-rsyslog-running:
  service.running:
    - name: {{ logging.rsyslog.service }}
    - enable: True
    - require:
      - pkg: core-logging-packages-installed
    - watch:
      - file: core-logging-rsyslog-forwarding

core-logging-logrotate-policy:
  file.managed:
    - name: {{ logging.logrotate.file }}
    - user: root
    - group: root
    - mode: '0644'
    # logrotate's dry run rejects a policy it cannot parse before it is put in place.
    - check_cmd: logrotate -d
    - contents: |
        # Managed by deploy-system-unified (core.logging).
        {{ logging.logrotate.paths | join(" ") }} {
            {{ logging.logrotate.frequency }}
            rotate {{ logging.logrotate.rotate }}
            maxsize {{ logging.logrotate.maxsize }}
            missingok
            notifempty
            compress
            delaycompress
            create 0640 root adm
        }
    - require:
      - pkg: core-logging-packages-installed

core-logging-logrotate-applications:
  file.managed:
    - name: {{ logging.logrotate.applications_file }}
    - user: root
    - group: root
    - mode: '0644'
    - check_cmd: logrotate -d
    - contents: |
        # Managed by deploy-system-unified (core.logging): application logs.
{%- for app, policy in logging.logrotate.applications | dictsort %}
        # {{ app }}
        {{ policy.paths | join(" ") }} {
            {{ policy.get("frequency", logging.logrotate.frequency) }}
            rotate {{ policy.get("rotate", logging.logrotate.rotate) }}
            maxsize {{ policy.get("maxsize", logging.logrotate.maxsize) }}
            missingok
            notifempty
            compress
            delaycompress
            copytruncate
        }
{%- endfor %}
    - require:
      - pkg: core-logging-packages-installed
