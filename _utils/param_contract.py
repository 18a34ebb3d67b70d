"""
Parameter contracts: the declared shape of a role's parameters, and the one validator of them.

Every role (``salt/<area>/<role>/parameters/contract.yaml``) declares what its merged parameters
may hold; the same contract is checked twice with :func:`problems`: by preflight, for every
target before anything changes (all problems at once), and by the role's ``map.jinja`` when it
renders (core/libparams.jinja), which refuses the render naming every bad key. docs/contracts.md
describes the language; in short, a *spec* is a mapping of:

``type``
    ``string``, ``integer``, ``number``, ``boolean``, ``list``, ``mapping`` or ``any``, or a list
    of those (any of them). ``integer`` never accepts a boolean.
``one_of``
    the allowed values.
``key_of``
    the name of a sibling field: the value must be one of that mapping's keys (for a list item,
    a field beside the list).
``min`` / ``max``
    bounds of a number, of a string's or list's length, of a mapping's size.
``format``
    a named shape of strings (:data:`FORMATS`), for names, paths, hosts and the like that end up
    in files, units or command lines.
``pattern``
    a regular expression a string must match whole (give ``describe`` with it).
``items``
    the spec of each list item.
``fields`` / ``required`` / ``extra``
    a mapping with known keys: each field's spec, the keys that must be present (and not
    empty), and whether other keys are allowed (default: not).
``keys`` / ``values``
    a mapping with free keys: the spec of each key and of each value.
``ordered``
    pairs ``[a, b]`` of fields: when both are set, a <= b.
``needs``
    ``{field: [other, ...]}``: when *field* is true, each other field must be set and not empty.
``nullable``
    None is allowed too.
``describe``
    what is allowed, in words, instead of the generated description.

A problem is one line: ``<pillar key path>: <what is wrong> (<what is allowed>)``. Values are
quoted only when short, so a problem never carries a long secret-like string.
"""

import ipaddress
import re
import urllib.parse

TYPES = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "list": (list,),
    "mapping": (dict,),
}
TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "list": "a list",
    "mapping": "a mapping",
    "any": "any value",
}
SPEC_KEYS = frozenset({
    "type", "one_of", "key_of", "min", "max", "format", "pattern", "items", "fields", "required", "extra",
    "keys", "values", "ordered", "needs", "nullable", "describe",
})

_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_PATTERNS = {
    # a word-like name: services, users, keys of settings, profiles
    "name": (re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,127}"), "a name of letters, digits and _.@+-"),
    # a file name, never a path
    "filename": (re.compile(r"(?!\.\.?$)[A-Za-z0-9_.@+-]{1,255}"), "a plain file name (no /, not . or ..)"),
    "path": (re.compile(r"(?!.*(?:^|/)\.\.(?:/|$))/[A-Za-z0-9_./@+:,=-]{0,4095}"),
             "an absolute path of letters, digits and _./@+:,=- (no ..)"),
    "path_glob": (re.compile(r"(?!.*(?:^|/)\.\.(?:/|$))/[A-Za-z0-9_./@+:,=*?\[\]-]{0,4095}"),
                  "an absolute path, * ? [ ] allowed"),
    "package": (re.compile(r"[a-z0-9][a-z0-9+.-]{1,127}"), "a Debian package name"),
    "unit": (re.compile(r"[A-Za-z0-9:_.\\@-]{1,200}\.(?:service|socket|timer|target|mount|path|"
                        r"slice|scope|swap|automount|device)"), "a systemd unit name with its suffix"),
    "octal_mode": (re.compile(r"0?[0-7]{3,4}"), "a quoted octal file mode such as '0640'"),
    "duration": (re.compile(r"(?:[0-9]+ ?(?:us|ms|s|sec|m|min|h|hr|d|day|days|w|week|weeks|"
                            r"month|months|y|year|years)? ?)+"), "a time span such as 30s or 1month"),
    "size": (re.compile(r"[0-9]+[KMGTPE]?"), "a size such as 512M or 1G"),
    "time_of_day": (re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]"), "a time of day HH:MM"),
    "sysctl_key": (re.compile(r"[a-z0-9_]+(?:\.[A-Za-z0-9_-]+)+"), "a sysctl key such as vm.swappiness"),
    "kernel_param": (re.compile(r"[A-Za-z0-9_.-]{1,128}"), "a kernel parameter name"),
    "option": (re.compile(r"[A-Za-z0-9_-]+(?:=[A-Za-z0-9_.,:/-]+)?"), "an option word, key=value allowed"),
    "options": (re.compile(r"[A-Za-z0-9_=.,: -]{0,255}"), "option words separated by spaces"),
    "pillar_key": (re.compile(r"[A-Za-z0-9_-]+(?::[A-Za-z0-9_-]+)*"), "a pillar key such as secrets:values"),
    # one line of printable text: may be written into a configuration file, never a command line
    "line": (re.compile(r"[^\x00-\x1f\x7f]{0,1024}"), "one line of printable text"),
}
FORMAT_WORDS = {name: words for name, (_, words) in _PATTERNS.items()}
FORMAT_WORDS.update({"host": "a host name or IP address", "ip": "an IP address", "url": "an http(s) URL",
                     "host_port": "host:port"})
FORMATS = frozenset(FORMAT_WORDS)
_MAX_SHOWN = 40
# A value is quoted only in a harmless shape (words, numbers, names, paths, commands): a password
# pasted where a name belongs may be short, but it mixes letter cases with digits, or letters and
# digits with punctuation. Such a value is shown by its length, never by its text.
_SEPARATORS = frozenset(" ._:/@%+,=~*-;\"'")
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")
_CHAR_CLASSES = (re.compile("[A-Z]"), re.compile("[a-z]"), re.compile("[0-9]"))


def _is_host(value):
    try:
        ipaddress.ip_address(value.strip("[]") if value.startswith("[") else value)
        return True
    except ValueError:
        pass
    name = value[:-1] if value.endswith(".") else value
    return 0 < len(name) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in name.split("."))


def _is_url(value):
    if any(c.isspace() or ord(c) < 32 for c in value):
        return False
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and _is_host(parts.hostname)


def _is_host_port(value):
    host, sep, port = value.rpartition(":")
    return bool(sep) and port.isdigit() and 0 < int(port) < 65536 and _is_host(host)


def _is_ip(value):
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def format_ok(name, value):
    """Whether string *value* has the shape of format *name*."""
    if name == "ip":
        return _is_ip(value)
    if name == "host":
        return _is_host(value)
    if name == "url":
        return _is_url(value)
    if name == "host_port":
        return _is_host_port(value)
    return _PATTERNS[name][0].fullmatch(value) is not None


def shown(value):
    """*value* for a message: short scalars quoted, anything else by its kind."""
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "null"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return repr(value) if _harmless(value) else f"a string of {len(value)} characters"
    return _kind(value)


def _harmless(text):
    """Short and printable, and no word of it shaped like a password or token: a run of letters
    and digits mixing upper case, lower case and digits, a run of 12 or more letters and digits
    mixed, or letters and digits with punctuation other than the separators of names, paths and
    quoted command lines. (CamelCase words are the shape of setting names: shown.)"""
    if len(text) > _MAX_SHOWN or not text.isprintable():
        return False
    for word in text.split():
        punctuated = any(not (c.isascii() and c.isalnum()) and c not in _SEPARATORS for c in word)
        if punctuated and _CHAR_CLASSES[2].search(word) and re.search("[A-Za-z]", word):
            return False
        for run in _ALNUM_RUN.findall(word):
            upper, lower, digit = (bool(chars.search(run)) for chars in _CHAR_CLASSES)
            if digit and (upper and lower or (upper or lower) and len(run) >= 12):
                return False
    return True


def key_text(key):
    """A mapping key as part of a key path: itself when short and printable, else its kind."""
    text = str(key)
    if _harmless(text):
        return text
    return f"<a key of {len(text)} characters>" if isinstance(key, str) else f"<{_kind(key)}>"


def _kind(value):
    for name, kinds in TYPES.items():
        if isinstance(value, kinds) and not (name in ("integer", "number") and isinstance(value, bool)):
            return TYPE_WORDS[name]
    return "null" if value is None else type(value).__name__


def _types(spec):
    kind = spec.get("type", "any")
    return kind if isinstance(kind, list) else [kind]


def describe(spec):
    """What *spec* allows, in a few words."""
    if "describe" in spec:
        return spec["describe"]
    if "one_of" in spec:
        return "one of " + ", ".join(shown(v) for v in spec["one_of"])
    if "key_of" in spec:
        return f"a key of {spec['key_of']}"
    words = " or ".join(TYPE_WORDS[t] for t in _types(spec))
    if "format" in spec:
        words = FORMAT_WORDS[spec["format"]]
    if "items" in spec:
        words += f" (each item {describe(spec['items'])})"
    if "min" in spec or "max" in spec:
        low, high = spec.get("min"), spec.get("max")
        unit = "" if set(_types(spec)) <= {"integer", "number"} else " in length"
        words += (f" from {low} to {high}{unit}" if low is not None and high is not None
                  else f" of at least {low}{unit}" if low is not None else f" of at most {high}{unit}")
    if spec.get("nullable"):
        words += " (or null)"
    return words


def _type_ok(spec, value):
    for kind in _types(spec):
        if kind == "any":
            return True
        if isinstance(value, TYPES[kind]) and not (kind in ("integer", "number") and isinstance(value, bool)):
            return True
    return False


def _size(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else len(value)


def _empty(value):
    return value is None or (isinstance(value, (str, list, dict)) and not value)


def problems(spec, value, path, parent=None):
    """Every way *value* at pillar key *path* breaks *spec*, one line each (empty: none).
    *parent* is the mapping that holds *value*, for ``key_of``."""
    if value is None and spec.get("nullable"):
        return []
    if not _type_ok(spec, value):
        return [f"{path}: is {shown(value)}, must be {describe(spec)}"]
    if "one_of" in spec and value not in spec["one_of"]:
        return [f"{path}: is {shown(value)}, must be {describe(spec)}"]
    if "key_of" in spec:
        choices = (parent or {}).get(spec["key_of"])
        if not isinstance(choices, dict) or value not in choices:
            keys = ", ".join(sorted(map(str, choices))) if isinstance(choices, dict) else "none"
            return [f"{path}: is {shown(value)}, must be a key of {spec['key_of']} ({keys})"]
    if isinstance(value, str) and (
            ("format" in spec and not format_ok(spec["format"], value))
            or ("pattern" in spec and re.fullmatch(spec["pattern"], value) is None)):
        return [f"{path}: is {shown(value)}, must be {describe(spec)}"]
    if isinstance(value, (str, list, dict, int, float)) and ("min" in spec or "max" in spec):
        size = _size(value)
        if ("min" in spec and size < spec["min"]) or ("max" in spec and size > spec["max"]):
            return [f"{path}: is {shown(value)}, must be {describe(spec)}"]
    found = []
    if isinstance(value, list) and "items" in spec:
        # an item's key_of names a field of the mapping that holds the list
        for index, item in enumerate(value):
            found += problems(spec["items"], item, f"{path}:{index}", parent)
    if isinstance(value, dict):
        found += _mapping_problems(spec, value, path)
    return found


def _mapping_problems(spec, value, path):
    found, flagged = [], set()  # flagged: fields with a problem of their own already
    fields = spec.get("fields")
    for key, item in value.items():
        where = f"{path}:{key_text(key)}"
        if fields is not None and key in fields:
            field_problems = problems(fields[key], item, where, value)
            flagged.update([key] if field_problems else [])
            found += field_problems
            continue
        if fields is not None and not spec.get("extra") and "values" not in spec:
            allowed = ", ".join(sorted(map(str, fields)))
            found.append(f"{where}: is not a known key here (known: {allowed})")
            continue
        if "keys" in spec:
            if not isinstance(key, str):
                found.append(f"{where}: the key is {shown(key)}, must be {describe(spec['keys'])}")
                continue
            found += [p.replace(f"{where}: is ", f"{where}: the key is ", 1)
                      for p in problems(spec["keys"], key, where)]
        if "values" in spec:
            found += problems(spec["values"], item, where, value)
    for key in spec.get("required", []):
        if key not in flagged and _empty(value.get(key)):
            wanted = describe((fields or {}).get(key, {}))
            found.append(f"{path}:{key}: is missing or empty, must be {wanted}")
    for low, high in spec.get("ordered", []):
        a, b = value.get(low), value.get(high)
        if _numeric(a) and _numeric(b) and a > b:
            found.append(f"{path}: {low} ({a}) is above {high} ({b}), must be at most {high}")
    for field, others in spec.get("needs", {}).items():
        if value.get(field) is True:
            found += [f"{path}:{other}: is missing or empty, must be set when {field} is true"
                      for other in others if _empty(value.get(other))]
    return found


def _numeric(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def contract_problems(spec, path="contract"):
    """Mistakes in the contract *spec* itself (unknown words, types or formats), one line each."""
    if not isinstance(spec, dict):
        return [f"{path}: a spec must be a mapping"]
    found = [f"{path}: unknown word {key!r}" for key in spec if key not in SPEC_KEYS]
    found += [f"{path}: unknown type {kind!r}" for kind in _types(spec) if kind not in TYPE_WORDS]
    if "format" in spec and spec["format"] not in FORMATS:
        found.append(f"{path}: unknown format {spec['format']!r}")
    if "pattern" in spec:
        try:
            re.compile(spec["pattern"])
        except (re.error, TypeError) as exc:
            found.append(f"{path}: pattern does not compile: {exc}")
        if "describe" not in spec:
            found.append(f"{path}: a pattern needs describe (what it allows, in words)")
    for word in ("items", "keys", "values"):
        if word in spec:
            found += contract_problems(spec[word], f"{path}.{word}")
    for key, field in (spec.get("fields") or {}).items():
        found += contract_problems(field, f"{path}.fields.{key}")
    names = set(spec.get("fields") or {})
    for word in ("required", "needs"):
        listed = spec.get(word, [])
        if isinstance(listed, dict):
            listed = list(listed) + [other for others in listed.values() for other in others]
        found += [f"{path}.{word}: {name!r} is not a field" for name in listed if name not in names]
    found += [f"{path}.ordered: {pair!r} is not a pair of fields" for pair in spec.get("ordered", [])
              if not (isinstance(pair, list) and len(pair) == 2 and set(pair) <= names)]
    return found


def check(contract, values, path):
    """Problems of the merged parameters *values* of the role whose pillar key is *path*, against
    the role's *contract* (a spec whose type defaults to mapping)."""
    spec = dict(contract or {})
    spec.setdefault("type", "mapping")
    return problems(spec, values, path)
