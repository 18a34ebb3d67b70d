{#- The twelve core roles (core/roles.yaml), in the order they build on each other:
    repositories first: every package state (aggregated into one apt transaction) needs its
      sources and a fresh cache;
    bootstrap: base packages, directories and the host's facts that later roles read;
    identity, hardware_support: facts and records, no services;
    entropy, time, systemd, logging: daemons and their settings;
    memory before grub: memory defines the zswap kernel parameters grub writes (read through
      memory's map data, so grub applied alone gives the same result);
    updates: unattended upgrades once the sources are final;
    secrets last: its directory and files depend on nothing else and nothing depends on them. -#}
{%- import_yaml "core/roles.yaml" as roles %}
include:
{%- for role in roles %}
  - core.{{ role }}
{%- endfor %}
