"""
Kernel command-line parameters: merge them from several sources, detect conflicts, and edit the
``GRUB_CMDLINE_LINUX_DEFAULT`` line of ``/etc/default/grub``.

Pure text logic, no side effects: the ``core.grub`` role reads the file, calls these functions at
render time and lets ``file.managed`` write the result. Parameter values: ``True`` is a bare flag
(``quiet``), ``False`` or ``None`` removes the parameter, anything else is written as ``key=value``.
"""

import re
import shlex

from salt.exceptions import CommandExecutionError

__virtualname__ = "kernelcmdline"

VARIABLE = "GRUB_CMDLINE_LINUX_DEFAULT"
_ASSIGNMENT = re.compile(rf"^{VARIABLE}=(.*)$", re.MULTILINE)
_UNSAFE = set('"$`\\')


def __virtual__():
    return __virtualname__


def _normalize(value):
    """``True`` for a bare flag, ``None`` for removal, else the value as a string."""
    if value is True:
        return True
    if value is False or value is None:
        return None
    return str(value)


def _show(value):
    if value is True:
        return "a bare flag"
    if value is None:
        return "removed"
    return repr(value)


def merge(sources):
    """
    Merge ``{source name: {param: value}}`` into one mapping. A parameter two sources set to
    different values is a conflict; each conflict names the parameter and both sources.

    Returns ``{"params": {param: value}, "conflicts": [message, ...]}`` (values normalised:
    ``True`` bare flag, ``None`` removal, else a string).

    CLI Example:

    .. code-block:: bash

        salt '*' kernelcmdline.merge '{"pillar": {"quiet": true}, "core.memory": {"zswap.enabled": 1}}'
    """
    params, origin, conflicts = {}, {}, []
    for source in sorted(sources or {}):
        for key, raw in sorted((sources[source] or {}).items()):
            key, value = str(key), _normalize(raw)
            if key in params and params[key] != value:
                conflicts.append(
                    f"conflict: kernel parameter {key} is {_show(params[key])} in {origin[key]} "
                    f"but {_show(value)} in {source}"
                )
                continue
            params.setdefault(key, value)
            origin.setdefault(key, source)
    return {"params": params, "conflicts": conflicts}


def parse(cmdline):
    """
    Split a kernel command line into ``[[param, value], ...]`` in order (``True`` for a flag).

    CLI Example:

    .. code-block:: bash

        salt '*' kernelcmdline.parse 'quiet zswap.enabled=1'
    """
    parsed = []
    for token in (cmdline or "").split():
        key, sep, value = token.partition("=")
        parsed.append([key, value if sep else True])
    return parsed


def render(cmdline, params):
    """
    Apply ``params`` to an existing command line: parameters already present keep their position
    and get the new value (or go, when removed); new ones are appended in sorted order; others stay.

    CLI Example:

    .. code-block:: bash

        salt '*' kernelcmdline.render 'quiet splash' '{"splash": false, "zswap.enabled": 1}'
    """
    params = {str(k): _normalize(v) for k, v in (params or {}).items()}
    done, tokens = set(), []
    for key, value in parse(cmdline):
        if key in params:
            if key in done:
                continue
            done.add(key)
            value = params[key]
            if value is None:
                continue
        tokens.append(key if value is True else f"{key}={value}")
    for key in sorted(set(params) - done):
        if params[key] is not None:
            tokens.append(key if params[key] is True else f"{key}={params[key]}")
    line = " ".join(tokens)
    if _UNSAFE & set(line):
        raise CommandExecutionError(f"kernel command line {line!r} contains shell metacharacters")
    return line


def current(text):
    """
    The value of the last ``GRUB_CMDLINE_LINUX_DEFAULT=`` assignment in a ``/etc/default/grub``
    text, or an empty string when there is none.

    CLI Example:

    .. code-block:: bash

        salt '*' kernelcmdline.current "$(cat /etc/default/grub)"
    """
    found = _ASSIGNMENT.findall(text or "")
    if not found:
        return ""
    raw = found[-1].strip()
    if "$" in raw or "`" in raw:
        raise CommandExecutionError(f"{VARIABLE} uses shell expansion ({raw}); edit it by hand")
    try:
        words = shlex.split(raw, comments=True)
    except ValueError as exc:
        raise CommandExecutionError(f"cannot parse {VARIABLE}={raw}: {exc}") from exc
    return " ".join(words)


def edit(text, params):
    """
    Return ``/etc/default/grub`` text with ``params`` applied to the last
    ``GRUB_CMDLINE_LINUX_DEFAULT`` assignment (appended when there is none). The rest of the
    text is kept byte for byte, so applying the same params twice gives the same text.

    CLI Example:

    .. code-block:: bash

        salt '*' kernelcmdline.edit "$(cat /etc/default/grub)" '{"quiet": true}'
    """
    text = text or ""
    line = f'{VARIABLE}="{render(current(text), params)}"'
    matches = list(_ASSIGNMENT.finditer(text))
    if not matches:
        return text + ("" if text.endswith("\n") or not text else "\n") + line + "\n"
    last = matches[-1]
    return text[: last.start()] + line + text[last.end():]


def edit_file(path, params):
    """
    :py:func:`edit` applied to the file at ``path``: returns the new text, writes nothing. Reads
    on the host itself, so the text never travels as a command-line argument (salt-ssh renders
    templates on the operator's machine and calls functions over SSH).

    CLI Example:

    .. code-block:: bash

        salt '*' kernelcmdline.edit_file /etc/default/grub '{"quiet": true}'
    """
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise CommandExecutionError(f"cannot read {path}: {exc}") from exc
    return edit(text, params)
