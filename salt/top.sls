base:
  '*':
    - core
