{#- core.secrets: a root-only directory (on disk, or a tmpfs in RAM) holding secret files written
    from pillar. The states get the pillar key of each secret, never its value, so no value is
    rendered into state data or shown in state output. -#}
{%- from tpldir ~ "/map.jinja" import secrets with context %}
{%- set directory = secrets.tmpfs_directory if secrets.tmpfs else secrets.directory %}
{%- set mount_options = [] %}
{%- for option in secrets.tmpfs_options %}
{#-   The kernel reports the mode without a leading zero; write it that way to stay idempotent. #}
{%-   if option.startswith("mode=") %}
{%-     do mount_options.append("mode=" ~ "%o" | format(option[5:] | int(base=8))) %}
{%-   else %}
{%-     do mount_options.append(option) %}
{%-   endif %}
{%- endfor %}
{%- if secrets.tmpfs %}

core-secrets-tmpfs-mounted:
  mount.mounted:
    - name: {{ directory }}
    - device: tmpfs
    - fstype: tmpfs
    - opts: {{ mount_options | json }}
    - mkmnt: True
    # Not in /etc/fstab: after a reboot the next highstate mounts it and writes the secrets again.
    - persist: False
    - require_in:
      - file: core-secrets-directory
{%- endif %}

core-secrets-directory:
  file.directory:
    - name: {{ directory }}
    - user: root
    - group: root
    - mode: '0700'
    - makedirs: True
{%- for file_name, spec in secrets.files | dictsort %}

core-secrets-file-{{ file_name }}:
  secret_file.present:
    - name: {{ directory ~ "/" ~ file_name }}
    - value_key: {{ (secrets.values_key ~ ":" ~ spec.value) | yaml_dquote }}
    - mode: '{{ spec.get("mode", "0600") }}'
    - user: {{ spec.get("user", "root") }}
    - group: {{ spec.get("group", "root") }}
    - require:
      - file: core-secrets-directory
{%- endfor %}
