{#- core.bootstrap: base packages, standard directories, the host's facts on record. -#}
{%- from tpldir ~ "/map.jinja" import bootstrap with context %}
{%- from "core/libhost.jinja" import host with context %}

core-bootstrap-base-packages-installed:
  pkg.installed:
    - pkgs: {{ bootstrap.packages | json }}
    # Every role's packages land in one apt transaction (requisite-aware in Salt 3008).
    - aggregate: True

{%- for path, mode in bootstrap.directories | dictsort %}

core-bootstrap-directory-{{ path }}:
  file.directory:
    - name: {{ path }}
    - user: root
    - group: root
    - mode: '{{ mode }}'
{%- endfor %}

core-bootstrap-host-facts-recorded:
  file.serialize:
    - name: {{ bootstrap.facts_file }}
    - serializer: json
    - dataset: {{ host | json }}
    - user: root
    - group: root
    - mode: '0644'
{%- set facts_dir = bootstrap.facts_file.rsplit("/", 1)[0] %}
{%- if facts_dir in bootstrap.directories %}
    - require:
      - file: core-bootstrap-directory-{{ facts_dir }}
{%- else %}
    # Not one of the directories above: created as the file is written.
    - makedirs: True
{%- endif %}
