"""The parameter-contract validator (_utils/param_contract.py): each word of the language, the
formats, the messages (key path first, what is allowed, no long value), and checks of contracts."""

import pytest

from tests.support.saltmods import load

pc = load("_utils", "param_contract")


def check(spec, value, path="core:x"):
    return pc.problems(spec, value, path)


@pytest.mark.parametrize(("spec", "good", "bad"), [
    ({"type": "integer"}, 3, True),
    ({"type": "integer"}, 3, "3"),
    ({"type": "number"}, 2.5, False),
    ({"type": "boolean"}, False, 0),
    ({"type": ["string", "integer"]}, 1, [1]),
    ({"type": "list"}, [], {}),
    ({"type": "mapping"}, {}, []),
    ({"one_of": ["udp", "tcp"]}, "tcp", "TCP"),
    ({"type": "integer", "min": 0, "max": 100}, 100, 101),
    ({"type": "integer", "min": 1}, 1, 0),
    ({"type": "string", "max": 3}, "abc", "abcd"),
    ({"type": "list", "min": 1}, [1], []),
    ({"type": "string", "nullable": True}, None, 1),
    ({"pattern": "(|https?://.+)", "describe": "empty or a URL"}, "", "ftp://x"),
], ids=lambda v: repr(v)[:30])
def test_words_accept_and_refuse(spec, good, bad):
    assert check(spec, good) == []
    assert len(check(spec, bad)) == 1


@pytest.mark.parametrize(("fmt", "good", "bad"), [
    ("host", "ntp.example.org", "ntp example"),
    ("host", "192.0.2.1", "ntp.example.org\nallow"),
    ("host", "2001:db8::1", "-bad.example"),
    ("url", "https://127.0.0.1:8443/health", "https://x y/"),
    ("url", "http://localhost/", "file:///etc/shadow"),
    ("host_port", "10.0.0.5:5432", "10.0.0.5:99999"),
    ("path", "/etc/chrony/conf.d/50-dsu.conf", "/etc/../shadow"),
    ("path", "/var/log/journal", "relative/path"),
    ("path", "/x", "/.."),
    ("path_glob", "/var/log/deploy-system/*.log", "/var/log/a b.log"),
    ("filename", "db.env", "../db.env"),
    ("filename", "a.b", ".."),
    ("octal_mode", "0640", "0999"),
    ("package", "rng-tools5", "Bad_Package"),
    ("unit", "apt-daily.timer", "apt-daily"),
    ("duration", "1month", "soon"),
    ("time_of_day", "02:00", "24:00"),
    ("sysctl_key", "vm.swappiness", "swappiness"),
    ("line", "origin=Debian,codename=${distro_codename}", "two\nlines"),
    ("options", "iburst minpoll 4", "iburst; reboot"),
])
def test_formats(fmt, good, bad):
    assert pc.format_ok(fmt, good)
    assert not pc.format_ok(fmt, bad)


def test_a_problem_names_the_key_path_and_what_is_allowed():
    spec = {"type": "list", "items": {"format": "host"}}
    assert check(spec, "ntp.example.org", "core:time:servers") == [
        "core:time:servers: is 'ntp.example.org', must be a list (each item a host name or IP address)"]
    assert check(spec, ["ok.example", "bad host"], "core:time:pools") == [
        "core:time:pools:1: is 'bad host', must be a host name or IP address"]


def test_a_long_or_multiline_value_is_never_shown():
    secretish = "Xk9Qz2Lw7Rt4Vb8Nm3Pc6Hd1Jf5Gs0canaryRootPw"
    for value in (secretish, "a\nb"):
        [line] = check({"format": "path"}, value)
        assert value not in line and "a string of" in line


def test_a_short_value_is_quoted_only_in_a_harmless_shape():
    """A password pasted where a name belongs is short: it is shown by its length."""
    for value in ("Hunter2", "S3cretPw", "AKIAIOSFODNN7EXAMPLE", "k8sjw2hd93jd82hs",
                  "tr0ub4dor&3", "my pw is x9!"):
        [line] = check({"type": "integer"}, value)
        assert value not in line and f"a string of {len(value)} characters" in line, line
    for value in ("ntp.example.org", "Europe/Berlin", "VERBOSE", "sha256", "10M", "/var/log/x y",
                  "vim; rm -rf /", "DefaultTimeoutStopSec"):
        [line] = check({"type": "integer"}, value)
        assert repr(value) in line, line


def test_mapping_fields_unknown_keys_extra_and_required():
    spec = {"type": "mapping", "fields": {"a": {"type": "integer"}, "b": {"type": "string"}},
            "required": ["b"]}
    assert check(spec, {"a": 1, "b": "x"}) == []
    assert check(spec, {"a": 1, "c": 2}) == [
        "core:x:c: is not a known key here (known: a, b)",
        "core:x:b: is missing or empty, must be a string"]
    assert check(dict(spec, extra=True), {"b": "x", "c": 2}) == []


def test_free_mappings_check_keys_and_values():
    spec = {"type": "mapping", "keys": {"format": "name"}, "values": {"type": "integer"}}
    assert check(spec, {"LLMNR": 1}) == []
    assert check(spec, {"a b": 1, "ok": "x"}) == [
        "core:x:a b: the key is 'a b', must be a name of letters, digits and _.@+-",
        "core:x:ok: is 'x', must be an integer"]


def test_ordered_needs_and_key_of():
    spec = {"type": "mapping", "ordered": [["warn", "critical"]],
            "fields": {"warn": {"type": "integer"}, "critical": {"type": "integer"}}}
    assert check(spec, {"warn": 95, "critical": 90}, "health_check:disks:/") == [
        "health_check:disks:/: warn (95) is above critical (90), must be at most critical"]
    assert check(spec, {"warn": 90, "critical": 90}) == []
    spec = {"type": "mapping", "needs": {"enabled": ["target"]},
            "fields": {"enabled": {"type": "boolean"}, "target": {"type": "string"}}}
    assert check(spec, {"enabled": True, "target": ""}) == [
        "core:x:target: is missing or empty, must be set when enabled is true"]
    assert check(spec, {"enabled": False, "target": ""}) == []
    spec = {"type": "mapping", "fields": {"profile": {"key_of": "profiles"}, "profiles": {"type": "mapping"}}}
    assert check(spec, {"profile": "db", "profiles": {"general": {}, "database": {}}}) == [
        "core:x:profile: is 'db', must be a key of profiles (database, general)"]


def test_a_key_is_shown_in_a_path_only_when_short_and_printable():
    spec = {"type": "mapping", "keys": {"format": "name"}}
    assert check(spec, {"a\nb": 1}) == [
        "core:x:<a key of 3 characters>: the key is a string of 3 characters, must be a name of "
        "letters, digits and _.@+-"]


def test_key_of_for_list_items_looks_beside_the_list():
    spec = {"type": "mapping", "fields": {"profiles": {"type": "mapping"},
                                          "no_swap": {"type": "list", "items": {"key_of": "profiles"}}}}
    assert check(spec, {"profiles": {"db": {}}, "no_swap": ["db", "dbx"]}) == [
        "core:x:no_swap:1: is 'dbx', must be a key of profiles (db)"]


def test_check_defaults_the_root_to_a_mapping():
    assert pc.check({"fields": {}}, "fast", "core:memory") == [
        "core:memory: is 'fast', must be a mapping"]


def test_contracts_are_checked_too():
    bad = {"type": "mapping", "fields": {"a": {"typ": "string"}, "b": {"type": "str"},
                                         "c": {"format": "hostname"}, "d": {"pattern": "("}},
           "required": ["e"], "ordered": [["a", "z"]]}
    found = pc.contract_problems(bad)
    assert "contract.fields.a: unknown word 'typ'" in found
    assert "contract.fields.b: unknown type 'str'" in found
    assert "contract.fields.c: unknown format 'hostname'" in found
    assert any(line.startswith("contract.fields.d: pattern does not compile") for line in found)
    assert "contract.fields.d: a pattern needs describe (what it allows, in words)" in found
    assert "contract.required: 'e' is not a field" in found
    assert "contract.ordered: ['a', 'z'] is not a pair of fields" in found
