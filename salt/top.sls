base:
  '*':
    - core
  # Production hosts end every highstate with the health gate (pillar deploy:profile).
  'I@deploy:profile:production':
    - match: compound
    - ops.health_check
