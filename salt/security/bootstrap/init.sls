{#- security.bootstrap: first contact without lockout. The access guard is armed first (pillar
    security:bootstrap:guard_seconds; 0 or absent: no guard): unless `access_guard.disarm` runs
    within that time, the host puts the SSH drop-in, the nftables ruleset and nftables' state
    back as they were when it was armed, and reloads ssh. Then the operator's user, sshd and the
    firewall, each only once the guard is armed. The operator side drives two phases through it
    (open: both SSH ports; close: the new port alone, no root), proving a login after each. -#}
{%- from "security/ssh/map.jinja" import ssh with context %}
{%- from "security/firewall/map.jinja" import firewall with context %}
{%- set guard_seconds = salt["pillar.get"]("security:bootstrap:guard_seconds", 0) %}

include:
  - security.access
  - security.ssh
  - security.firewall

{%- if guard_seconds %}

security-bootstrap-guard-armed:
  access_guard.armed:
    - name: dsu-access-revert
    - seconds: {{ guard_seconds | json }}
    - files: {{ [ssh.dropin, firewall.conf_file] | json }}
    - ssh_service: {{ ssh.service }}
    - nft_service: {{ firewall.service }}
    - require_in:
      - sls: security.access
      - sls: security.ssh
      - sls: security.firewall
{%- endif %}
