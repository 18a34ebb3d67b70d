{#- core.repositories: the Debian sources in deb822 form, the package cache refreshed only when
    they change (or when it was never built). Third-party files in sources.list.d are left alone. -#}
{%- from tpldir ~ "/map.jinja" import repositories with context %}
{%- set codename = grains.oscodename %}
{%- set current = salt["aptsources.current"](codename, repositories.mirror) %}
{%- set archive = current.archive_uri %}
{%- set security = repositories.security_mirror or current.security_uri %}
{%- set components = repositories.components | join(" ") %}
{%- set dpkg = repositories.dpkg_dir %}

{#- Before anything else of the run: finish a dpkg transaction that died half-way (a dropped
    session, the OOM killer). Until then apt refuses every package operation ("dpkg was
    interrupted, you must manually run 'dpkg --configure -a'"), so no later run could converge
    without a person. `dpkg --configure -a` replays dpkg's journal and configures what was
    unpacked; apt's fix-broken install then reinstalls what died while being unpacked and
    configures what dpkg could not yet (a dependency still half-installed), so it runs whatever
    dpkg's exit status, and its own is the state's. Only when dpkg is interrupted, as dpkg and
    apt tell it: entries in its journal (files named by digits only in updates/) or packages
    `dpkg --audit` lists as left half-way, and nobody holds dpkg's locks: a dpkg at work keeps a
    journal too. #}
core-repositories-interrupted-dpkg-repaired:
  cmd.run:
    - name: >-
        dpkg {{ repositories.dpkg_options | join(" ") }} --configure -a;
        apt-get --yes
        {%- for option in repositories.dpkg_options %} -o DPkg::Options::={{ option }}{% endfor %}
        --fix-broken install
    - env:
        DEBIAN_FRONTEND: noninteractive
        APT_LISTCHANGES_FRONTEND: none
        APT_LISTBUGS_FRONTEND: none
    - onlyif: >-
        ! lslocks --noheadings --output PATH | grep -qxE '{{ dpkg }}/lock(-frontend)?'
        && { ls {{ dpkg }}/updates | grep -qxE '[0-9]+' || test -n "$(dpkg --audit)"; }
    # First in every run that includes this role (the highstate does): before the sources, the
    # cache refresh and the one package transaction all roles' pkg.installed states join, which
    # also require it below.
    - order: 1
{#- About the host, not the parameters (the contract refuses empty components): no archive to
    keep when its sources list none for its codename and pillar names no mirror. #}
{%- if not archive %}

core-repositories-sources-undetermined:
  test.fail_without_changes:
    - name: >-
        cannot write {{ repositories.sources_file }}: no Debian archive for {{ codename }} in the
        host's APT sources and pillar core:repositories:mirror is empty
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

{#- Refresh when the sources changed ... #}
core-repositories-package-cache-refreshed:
  module.run:
    - pkg.refresh_db:
      - failhard: True
    - onchanges:
      - file: core-repositories-debian-sources
      - file: core-repositories-sources-list
    - require:
      - cmd: core-repositories-interrupted-dpkg-repaired

{#- ... and whenever apt has no package lists at all (it never ran apt update). Checked when the
    state runs, not when it renders: a minion's view stays current however long it has run. #}
core-repositories-package-cache-built:
  module.run:
    - pkg.refresh_db:
      - failhard: True
    - unless: {{ ("ls " ~ repositories.lists_dir ~ "/*_Packages* >/dev/null 2>&1") | yaml_dquote }}
    - require:
      - cmd: core-repositories-interrupted-dpkg-repaired
      - file: core-repositories-sources-list
      - module: core-repositories-package-cache-refreshed

# After the repair, the sources and the cache: with aggregate, every role's packages join this
# transaction, which inherits these requisites, so all packages come from the final sources.
core-repositories-packages-installed:
  pkg.installed:
    - pkgs: {{ repositories.packages | json }}
    - aggregate: True
    - require:
      - cmd: core-repositories-interrupted-dpkg-repaired
      - module: core-repositories-package-cache-refreshed
      - module: core-repositories-package-cache-built
{%- endif %}
