{#- The core roles, in the order they build on each other. -#}
include:
  - core.bootstrap
