"""
Preflight assertions on a host's compiled pillar, before any change. Read-only.

``dsu preflight <host>`` checks on the operator's side what can be checked there (the secrets
files decrypt, no plaintext secret in plain pillar, key directories are private); this module
checks what only the pillar compiled for one host can tell:

- every name in ``secrets:required`` (declared in pillar/secrets/provider.yaml) has a value under
  ``secrets:values`` (``core:secrets:values_key`` if that is set);
- unless told otherwise, so has every value ``core:secrets:files:<file>:value`` names: the files
  ``core.secrets`` would write;
- the host is in exactly one deployment profile (docs/profiles.md): ``deploy:profile`` is one of
  the known profiles, and no list of pillar ``deploy/profiles.yaml`` (``deploy:profile_matches``,
  set by pillar/deploy/init.sls) names another one.

A problem names a pillar key, never a secret value. Whether the host meets its profile's contract
is checked where salt/preflight renders (profiles/<profile>.yaml), with the roles' parameters.
"""

import salt.utils.data

__virtualname__ = "preflight"

PROFILES = ("production", "hardened", "ephemeral", "dev")
DEFAULT_VALUES_KEY = "secrets:values"
_MISSING = object()


def __virtual__():
    return __virtualname__


def _get(key, default=_MISSING):
    return salt.utils.data.traverse_dict_and_list(__pillar__, key, default, delimiter=":")


def _value_problem(path, why):
    """What is wrong with the secret at pillar key *path* (None: nothing), *why* it is needed."""
    value = _get(path)
    if value is _MISSING:
        return f"{path} is missing ({why})"
    if value is None or value == "":
        return f"{path} is empty ({why})"
    if isinstance(value, (dict, list)):
        # core.secrets writes single values only and fails the state on anything else
        return f"{path} is a {'mapping' if isinstance(value, dict) else 'list'}, not a single value ({why})"
    return None


def _names(required):
    if required in (_MISSING, None):
        return [], []
    if not isinstance(required, list) or not all(isinstance(n, str) and n for n in required):
        return [], ["secrets:required must be a list of secret names"]
    return required, []


def secrets(file_values=True):
    """
    Problems with the secrets of this host's pillar, as a list of one-line strings (empty: none).

    file_values
        Also require every value named by ``core:secrets:files`` (default True).

    CLI Example:

    .. code-block:: bash

        salt '*' preflight.secrets
        salt '*' preflight.secrets file_values=False
    """
    values_key = _get("core:secrets:values_key", None) or DEFAULT_VALUES_KEY
    names, problems = _names(_get("secrets:required"))
    wanted = {name: "listed in secrets:required, declared in secrets/provider.yaml" for name in names}
    files = _get("core:secrets:files", None) or {}
    if file_values and not isinstance(files, dict):
        problems.append("core:secrets:files must be a mapping of file name to {value: <name>}")
    elif file_values:
        for file_name, spec in sorted(files.items()):
            name = spec.get("value") if isinstance(spec, dict) else None
            if not isinstance(name, str) or not name:
                problems.append(f"core:secrets:files:{file_name} names no value")
            else:
                wanted.setdefault(name, f"core.secrets writes it to {file_name}")
    for name, why in wanted.items():
        problem = _value_problem(f"{values_key}:{name}", why)
        if problem:
            problems.append(problem)
    return problems


def _count(names):
    return {2: "two", 3: "three", 4: "four"}.get(len(names), str(len(names)))


def profile():
    """
    Problems with the host's deployment profile (empty list: it is in exactly one known profile).

    ``deploy:profile`` is the host's profile: set by pillar/deploy/init.sls from the one list of
    ``deploy/profiles.yaml`` that names the host (or the file's ``default``), or by a pillar file
    of the host's own. ``deploy:profile_matches`` lists every profile whose list names the host.
    A problem when the profile is unknown, when the host is in no profile, and when it is in two
    or more: two lists name it, or its own ``deploy:profile`` is not the one a list names.

    CLI Example:

    .. code-block:: bash

        salt '*' preflight.profile
    """
    host = __opts__.get("id") or "this host"
    value = _get("deploy:profile", None)
    matches = _get("deploy:profile_matches", None)
    matches = [m for m in matches if isinstance(m, str)] if isinstance(matches, list) else []
    if value not in (None, "") and value not in PROFILES:
        return [f"deploy:profile is {value!r}, not one of {', '.join(PROFILES)}"]
    if value in (None, ""):
        if not matches:
            return [f"deploy:profile is not set: {host} is in no profile, must be in exactly one of "
                    f"{', '.join(PROFILES)} (assign it in pillar deploy/profiles.yaml)"]
        if len(matches) == 1:
            return [f"deploy:profile is not set: pillar deploy/profiles.yaml puts {host} in "
                    f"{matches[0]}, but a later pillar file sets deploy:profile to nothing"]
        return [f"deploy:profile is not set: {host} is in {_count(matches)} profiles: "
                f"{', '.join(matches)} (lists of pillar deploy/profiles.yaml name it), "
                "must be in exactly one"]
    if matches in ([], [value]):
        return []
    if value in matches:
        return [f"deploy:profile is {value!r}: {host} is in {_count(matches)} profiles: "
                f"{', '.join(matches)} (lists of pillar deploy/profiles.yaml name it), "
                "must be in exactly one"]
    return [f"deploy:profile is {value!r}: {host} is in {_count([*matches, value])} profiles: "
            f"{', '.join(matches)} (pillar deploy/profiles.yaml), {value} (its own deploy:profile), "
            "must be in exactly one"]


def problems(file_values=True):
    """
    Every preflight problem of this host's pillar (``secrets`` and ``profile``), one line each.

    CLI Example:

    .. code-block:: bash

        salt '*' preflight.problems
    """
    return secrets(file_values=file_values) + profile()
