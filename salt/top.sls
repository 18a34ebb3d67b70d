base:
  '*':
    - core
  # Production and hardened hosts end every highstate with the health gate (pillar
  # deploy:profile, docs/profiles.md).
  'I@deploy:profile:production or I@deploy:profile:hardened':
    - match: compound
    - ops.health_check
