"""Plain pillar files as data (dsu/pillarfiles.py): YAML errors with line and column, the file that
sets a key, an SLS's file, and Salt's render errors read from salt-ssh's log."""

from dsu import pillarfiles

LOG = """\
[CRITICAL] Rendering SLS 'hosts.web1' failed, render error:
while parsing a flow sequence
  in "<unicode string>", line 3, column 14
did not find expected ',' or ']'
  in "<unicode string>", line 4, column 6
Traceback (most recent call last):
  File "x.py", line 1, in <module>
salt.exceptions.SaltRenderError: while parsing a flow sequence
[CRITICAL] Rendering SLS 'defaults' failed, render error:
Jinja syntax error: unexpected '}'; line 2

---
{% if x }
core: {db_password: hunter2-canary}
---
[CRITICAL] Pillar render error: Rendering SLS 'defaults' failed. Please see master log for details.
"""


def _tree(tmp_path):
    (tmp_path / "hosts").mkdir()
    (tmp_path / "defaults.sls").write_text("core:\n  time:\n    servers: [a.example]\n")
    (tmp_path / "hosts" / "web1.sls").write_text("core:\n  time:\n    pools: [b\n  memory: {}\n")
    (tmp_path / "hosts" / "init.sls").write_text("{% set x = 1 %}\ncore: {time: {servers: [c]}}\n")
    (tmp_path / "gpg.sls").write_text("#!yaml|gpg\nsecrets: [\n")
    return tmp_path


def test_a_plain_file_that_does_not_parse_is_named_with_line_and_column(tmp_path):
    root = _tree(tmp_path)
    assert [p.line() for p in pillarfiles.syntax_problems([root])] == [
        f"{root}/hosts/web1.sls: not valid YAML: line 4, column 9: did not find expected ',' or ']' "
        "(while parsing a flow sequence)"]


def test_the_files_that_set_a_key(tmp_path):
    root = _tree(tmp_path)
    assert pillarfiles.setting_files([root], "core:time:servers:0") == [root / "defaults.sls"]
    assert pillarfiles.setting_files([root], "core:time:service") == [root / "defaults.sls"]
    assert pillarfiles.setting_files([root], "health_check:disks") == []


def test_an_sls_name_is_its_file(tmp_path):
    root = _tree(tmp_path)
    assert pillarfiles.sls_file([root], "defaults") == root / "defaults.sls"
    assert pillarfiles.sls_file([root], "hosts") == root / "hosts" / "init.sls"
    assert pillarfiles.sls_file([root], "hosts.web1") == root / "hosts" / "web1.sls"
    assert pillarfiles.sls_file([root], "gone") is None


def test_render_errors_keep_the_message_and_marks_never_the_excerpt():
    found = pillarfiles.render_errors(LOG)
    assert found["hosts.web1"] == ("while parsing a flow sequence at line 3, column 14; "
                                   "did not find expected ',' or ']' at line 4, column 6")
    assert found["defaults"] == "Jinja syntax error: unexpected '}'; line 2"
    assert "hunter2" not in str(found)
