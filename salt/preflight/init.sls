{#- Preflight: read-only assertions on this host's compiled pillar, before any change. Not part of
    the highstate; `dsu preflight <host>` applies it (after its operator-side checks) and the
    pillar failing to compile fails it too. Changes nothing, with or without test=True.
    Pillar preflight:file_values (default True): also require every value core:secrets:files
    names. See docs/preflight.md. #}

preflight-pillar:
  preflight.passed:
    - name: pillar preflight
    - file_values: {{ salt["pillar.get"]("preflight:file_values", True) | json }}
