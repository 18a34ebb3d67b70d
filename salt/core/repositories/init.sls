{#- core.repositories: the Debian sources in deb822 form, the package cache refreshed only when
    they change (or when it was never built). Third-party files in sources.list.d are left alone. -#}
{%- from tpldir ~ "/map.jinja" import repositories with context %}
{%- set codename = grains.oscodename %}
{%- from "core/libhost.jinja" import apt with context %}
{%- set archive = repositories.mirror or apt.archive_uri %}
{%- set security = repositories.security_mirror
      or (salt["aptsources.security_from_archive"](archive) if repositories.mirror
          else apt.security_uri) %}
{%- set components = repositories.components | join(" ") %}
{%- if not archive or not components %}

core-repositories-sources-undetermined:
  test.fail_without_changes:
    - name: >-
        cannot write {{ repositories.sources_file }}: no Debian archive for {{ codename }} in the
        host's APT sources{{ " (" ~ apt.sources_error ~ ")" if apt.sources_error else "" }} and
        pillar core:repositories:mirror is empty, or no components given
{%- else %}

core-repositories-debian-sources:
  file.managed:
    - name: {{ repositories.sources_file }}
    - user: root
    - group: root
    - mode: '0644'
    - contents: |
        # Managed by Salt (core.repositories); local edits are overwritten.
        Types: deb
        URIs: {{ archive }}
        Suites: {{ codename }} {{ codename }}-updates
        Components: {{ components }}
        Signed-By: {{ repositories.signed_by }}

        Types: deb
        URIs: {{ security }}
        Suites: {{ codename }}-security
        Components: {{ components }}
        Signed-By: {{ repositories.signed_by }}

core-repositories-sources-list:
  file.managed:
    - name: {{ repositories.sources_list }}
    - user: root
    - group: root
    - mode: '0644'
    - contents: |
        # Managed by Salt (core.repositories): the Debian sources are in
        # {{ repositories.sources_file }} (deb822 form).
        # Add other repositories as their own files in /etc/apt/sources.list.d/.
    - require:
      - file: core-repositories-debian-sources

{#- Refresh when the sources changed; always while apt has no package lists at all. #}
core-repositories-package-cache-refreshed:
  module.run:
    - pkg.refresh_db:
      - failhard: True
{%- if (apt.has_package_lists if repositories.lists_dir == apt.lists_dir
        else salt["file.find"](repositories.lists_dir, name="*_Packages*", maxdepth=1)) %}
    - onchanges:
      - file: core-repositories-debian-sources
      - file: core-repositories-sources-list
{%- else %}
    - require:
      - file: core-repositories-sources-list
{%- endif %}

# After the sources and the cache: with aggregate, every role's packages join this transaction,
# which inherits these requisites, so all packages come from the final sources.
core-repositories-packages-installed:
  pkg.installed:
    - pkgs: {{ repositories.packages | json }}
    - aggregate: True
    - require:
      - module: core-repositories-package-cache-refreshed
{%- endif %}
