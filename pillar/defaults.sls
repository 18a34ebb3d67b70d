# Pillar every host gets. Role parameters go under core:<role> and override the role's
# parameters/defaults.yaml; see docs/roles/.
core: {}

# deploy:profile is one of production, hardened, ephemeral, dev: assign hosts in deploy/profiles.yaml
# (or set deploy:profile in a host's own pillar). Each profile has a contract preflight enforces
# (salt/preflight/profiles/, docs/profiles.md). Production and hardened hosts end their highstate
# with the health gate (ops.health_check, see docs/health.md).
# deploy:fail_secure (default true, set in deploy/init.sls): a failed safety check stops the
# deploy rather than letting it go on open. Only dev hosts may set it to false.
# health_check: overrides the checks of the health module (units, runtimes, disks, endpoints, time).
