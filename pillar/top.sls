base:
  '*':
    - defaults
