# Pillar every host gets. Role parameters go under core:<role> and override the role's
# parameters/defaults.yaml; see docs/roles/.
core: {}

# deploy:profile is one of production, hardened, ephemeral, dev; set it per host. Production hosts
# end their highstate with the health gate (ops.health_check, see docs/health.md).
# health_check: overrides the checks of the health module (units, runtimes, disks, endpoints, time).
