# Pillar every host gets. Role parameters go under core:<role> and override the role's
# parameters/defaults.yaml; see docs/roles/.
core: {}
