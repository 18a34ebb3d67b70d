{#- security.ssh: sshd's ports, root login and further options in one drop-in, put in place only
    when sshd accepts it and its effective configuration says what was asked (the sshd_config
    state checks with sshd -t and sshd -T, restores the old file on any failure and reloads ssh
    only for a valid change); ssh stays enabled and running. -#}
{%- from "security/ssh/map.jinja" import ssh with context %}
{%- from "security/access/map.jinja" import access with context %}

security-ssh-packages-installed:
  pkg.installed:
    - pkgs: {{ ssh.packages | json }}
    - aggregate: True

# The effective configuration is checked for the connection the operator will make: the deploy
# user on the first port.
security-ssh-dropin-managed:
  sshd_config.managed:
    - name: {{ ssh.dropin }}
    - ports: {{ ssh.ports | json }}
    - permit_root_login: {{ ssh.permit_root_login | json }}
    - password_authentication: {{ ssh.password_authentication | json }}
    - settings: {{ ssh.settings | json }}
    - check_user: {{ access.user }}
    - service: {{ ssh.service }}
    - require:
      - pkg: security-ssh-packages-installed

# No watch: the drop-in state reloads ssh itself, and only for a change sshd accepted.
security-ssh-service-running:
  service.running:
    - name: {{ ssh.service }}
    - enable: True
    - require:
      - pkg: security-ssh-packages-installed
