{#- The twelve core roles, in the order they build on each other:
    repositories first: every package state (aggregated into one apt transaction) needs its
      sources and a fresh cache;
    bootstrap: base packages, directories and the host's facts that later roles read;
    identity, hardware_support: facts and records, no services;
    entropy, time, systemd, logging: daemons and their settings;
    memory before grub: memory defines the zswap kernel parameters grub writes (read through
      memory's map data, so grub applied alone gives the same result);
    updates: unattended upgrades once the sources are final;
    secrets last: its directory and files depend on nothing else and nothing depends on them. -#}
include:
  - core.repositories
  - core.bootstrap
  - core.identity
  - core.hardware_support
  - core.entropy
  - core.time
  - core.systemd
  - core.logging
  - core.memory
  - core.grub
  - core.updates
  - core.secrets
