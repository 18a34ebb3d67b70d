{#- security.access: the operator's way in that does not need root: a user (default deploy) with
    exactly the pillar's SSH keys and NOPASSWD sudo. First contact (security.bootstrap) creates it
    before root login is closed. Refuses to render without a key: the user would be a locked door,
    and closing root login behind it a lockout. -#}
{%- from "security/access/map.jinja" import access with context %}
{%- if not access.get("authorized_keys") %}
{{-   raise("security/access: pillar security:access:authorized_keys is not set: the user "
            ~ access.user ~ " would have no way in; nothing applied") }}
{%- endif %}
{%- set home = access.home or "/home/" ~ access.user %}

security-access-packages-installed:
  pkg.installed:
    - pkgs: {{ access.packages | json }}
    - aggregate: True

# Password '*' matches no password, yet is not "locked" ('!'), which sshd refuses for key logins
# too when UsePAM is off.
security-access-user-present:
  user.present:
    - name: {{ access.user }}
    - shell: {{ access.shell }}
    - home: {{ home }}
    - createhome: True
    - password: '*'

security-access-ssh-directory:
  file.directory:
    - name: {{ home }}/.ssh
    - user: {{ access.user }}
    - group: {{ access.user }}
    - mode: '0700'
    - require:
      - user: security-access-user-present

security-access-authorized-keys:
  file.managed:
    - name: {{ home }}/.ssh/authorized_keys
    - user: {{ access.user }}
    - group: {{ access.user }}
    - mode: '0600'
    - contents: |
        # Managed by deploy-system-unified (security.access): exactly these keys.
{%- for key in access.authorized_keys %}
        {{ key }}
{%- endfor %}
    - require:
      - file: security-access-ssh-directory

# visudo checks the new file before it replaces the old one: a broken sudoers drop-in would
# break sudo for everyone.
security-access-sudoers-dropin:
  file.managed:
    - name: {{ access.sudoers_file }}
    - user: root
    - group: root
    - mode: '0440'
    - contents: |
        # Managed by deploy-system-unified (security.access).
        {{ access.user }} ALL=(ALL:ALL) NOPASSWD: ALL
    - check_cmd: /usr/sbin/visudo -cf
    - require:
      - pkg: security-access-packages-installed
      - user: security-access-user-present
