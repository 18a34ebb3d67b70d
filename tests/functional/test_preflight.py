"""Preflight over real pillar trees with real encrypted files (tests/support/preflighttree.py): a broken tree
gets every problem reported in one run, a clean one none, no secret value is ever printed; the
preflight SLS renders and its module reads a compiled pillar through Salt's loader; `dsu preflight`
prints one line per problem and exits 1 (salt-ssh replaced by its recorded kind of answer here; the
real run on a lab host is tests/integration/test_preflight.py). Read-only: nothing is applied.

A hostile tree (secrets only their values give away, alias bombs) gets every finding named by file
and key path, the bombs refused within a couple of seconds; local checks past their time limit are
one problem naming the file they were at."""

import threading
import time

import pytest
import salt.utils.yaml

from dsu import preflight, saltconfig
from dsu.cli import main
from dsu.secrets import checks, plaintext
from tests.support.preflighttree import CANARIES, PLAINTEXT, VALUE_CANARIES, sops_text, write_tree
from tests.support.sopskeys import key_env, write_age_keys

LISTED = "(listed in secrets:required, declared in secrets/provider.yaml)"

HOST = "web1"
# every planted value, and the one word all of them carry: no part of one is ever printed
SECRETS = [*CANARIES.values(), PLAINTEXT, *VALUE_CANARIES.values(), "canary"]


@pytest.fixture
def env(tmp_path, gnupg_home, monkeypatch):
    """The test keys and nothing else: GNUPGHOME, an age key file, no ~/.config of the machine."""
    age_file = write_age_keys(tmp_path / "age-keys.txt")
    for name, value in {**key_env(gnupg_home, age_file), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return age_file


def _lines(problems):
    lines = [p.line() for p in problems]
    for line in lines:
        assert not any(secret in line for secret in SECRETS), line
    return lines


def test_a_clean_tree_has_no_local_problem(tmp_path, gnupg_home, env):
    tree = write_tree(tmp_path, gnupg_home, HOST)
    problems, account = checks.local_problems(saltconfig.setup(tree.config, tree.pillar))
    assert problems == []
    # with secrets/plaintext-allow.yaml, deploy/init.sls and deploy/profiles.yaml
    assert account.startswith("2 secrets file(s), 10 pillar file(s)")


def test_every_problem_of_a_broken_tree_in_one_run(tmp_path, gnupg_home, env):
    tree = write_tree(tmp_path, gnupg_home, HOST, broken=True)
    env.chmod(0o644)
    problems, _ = checks.local_problems(saltconfig.setup(tree.config, tree.pillar))
    lines = _lines(problems)
    expected = [*tree.local, (str(env), "SOPS_AGE_KEY_FILE has mode 0644, must be 0600 or stricter")]
    for where, what in expected:
        assert [line for line in lines if line.split(": ", 1)[0].endswith(where) and what in line], \
            (where, what, lines)
    # GNUPGHOME is gpg_keydir here: one directory, reported once; nothing else reported
    assert len(lines) == len(expected), lines


def test_sops_value_salt_would_read_differently(tmp_path, gnupg_home, env):
    path = tmp_path / "flags.sls"
    text = sops_text({"enabled_unencrypted": "yes", "secret": "x"}, gnupg_home)
    assert "'yes'" in text
    path.write_text(text.replace("'yes'", "yes"))  # as a hand edit leaves it: sops still reads a string
    conf = saltconfig.setup(None, tmp_path)
    assert [p.what for p in checks.check_sops_file(path, conf)] == [
        "an unencrypted value reads differently in Salt's YAML 1.1 (yes/no/on/off, 0-prefixed numbers): "
        "the MAC check would fail in the pillar; quote it"]


def test_the_repo_pillar_holds_no_plaintext_secret(repo):
    assert plaintext.scan_plaintext([repo / "pillar"])[0] == []


def test_the_preflight_sls_renders_one_gate(caller):
    rendered = caller("preflight:\n  file_values: false\n").cmd("state.show_sls", "preflight")
    assert list(rendered) == ["preflight-pillar"]
    gate = rendered["preflight-pillar"]["preflight"]
    assert "passed" in gate and {"file_values": False} in gate and {"name": "pillar preflight"} in gate


def test_module_reads_the_compiled_pillar(caller):
    client = caller(salt.utils.yaml.safe_dump({
        "secrets": {"required": ["db_password", "absent"],
                    "values": {"db_password": CANARIES["db_password"]}},
        "core": {"secrets": {"files": {"api-token": {"value": "api_token"}}}},
        "deploy": {"profile": "staging"}}))
    problems = client.cmd("preflight.problems")
    assert problems == [f"secrets:values:absent is missing {LISTED}",
                        "secrets:values:api_token is missing (core.secrets writes it to api-token)",
                        "deploy:profile is 'staging', not one of production, hardened, ephemeral, dev"]


def _answer(problems):
    state = {"result": not problems, "changes": {}, "comment": "…", "__id__": "preflight-pillar",
             "problems": problems}
    return {"preflight_|-preflight-pillar_|-pillar preflight_|-passed": state}


def _no_earlier_runs(monkeypatch):
    """No probe of the (fake) target for a state run still going there: nothing is."""
    monkeypatch.setattr(preflight, "wait_for_earlier_runs", lambda *a, **k: {}, raising=False)


def test_cli_prints_every_problem_and_exits_1(tmp_path, gnupg_home, env, monkeypatch, capsys):
    tree = write_tree(tmp_path, gnupg_home, HOST, broken=True)
    roster = tmp_path / "roster"
    roster.write_text(f"{HOST}:\n  host: 192.0.2.10\n")
    calls = []

    def fake_salt_ssh(targets, fun, *args, roster, timeout=None, config_dir=None, **options):
        master = salt.utils.yaml.safe_load((config_dir / "master").read_text())
        calls.append((targets, fun, args, master["pillar_roots"], master["gpg_keydir"]))
        return preflight.SaltRun(1, {HOST: _answer(tree.target)}, "")

    monkeypatch.setattr(preflight, "salt_ssh", fake_salt_ssh)
    _no_earlier_runs(monkeypatch)
    code = main(["preflight", HOST, "--roster-file", str(roster), "--config-dir", str(tree.config),
                 "--pillar-root", str(tree.pillar)])
    out, err = capsys.readouterr()
    assert code == 1
    assert calls == [([HOST], "state.apply", ("preflight", "test=True"), {"base": [str(tree.pillar)]},
                      str(gnupg_home.path))]
    lines = out.splitlines()
    assert len(lines) == len(tree.local) + len(tree.target) + 1
    assert lines[-1] == f"preflight {HOST}: {len(lines) - 1} problem(s) ({len(tree.local)} here, " \
                        f"{len(tree.target)} on the target)"
    remote = [line for line in lines if line.startswith(f"{HOST}: ")]
    assert [line.split(" (set in ")[0] for line in remote] == [f"{HOST}: {p}" for p in tree.target]
    # a problem with a pillar key names the plain pillar file that sets it
    assert f"{HOST}: deploy:profile is 'bogus' (set in {tree.pillar}/defaults.sls)" in remote
    assert "salt-ssh state.apply preflight" in err
    assert not any(secret in out + err for secret in SECRETS)


def test_cli_passes_a_clean_tree(tmp_path, gnupg_home, env, monkeypatch, capsys):
    tree = write_tree(tmp_path, gnupg_home, HOST)
    roster = tmp_path / "roster"
    roster.write_text(f"{HOST}:\n  host: 192.0.2.10\n")
    monkeypatch.setattr(preflight, "salt_ssh", lambda *a, **k: preflight.SaltRun(0, {HOST: _answer([])}, ""))
    _no_earlier_runs(monkeypatch)
    code = main(["preflight", HOST, "--roster-file", str(roster), "--config-dir", str(tree.config),
                 "--pillar-root", str(tree.pillar)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith(f"preflight {HOST}: passed (2 secrets file(s)")


def _expected(lines, expected):
    for where, what in expected:
        assert [line for line in lines if line.split(": ", 1)[0].endswith(where) and what in line], \
            (where, what, lines)
    assert len(lines) == len(expected), lines


def test_secrets_by_value_and_alias_bombs_of_a_hostile_tree_in_one_quick_run(tmp_path, gnupg_home, env):
    tree = write_tree(tmp_path, gnupg_home, HOST, hostile=True)
    started = time.monotonic()
    problems, account = checks.local_problems(saltconfig.setup(tree.config, tree.pillar))
    assert time.monotonic() - started < 5
    lines = _lines(problems)
    _expected(lines, tree.local)  # the allowed app:public_key and certs:web:chain are not among them
    assert account.startswith("4 secrets file(s), 11 pillar file(s)")  # the three bombs not scanned


def test_cli_names_file_and_key_path_of_each_value_secret_and_refuses_the_bombs(
        tmp_path, gnupg_home, env, monkeypatch, capsys):
    tree = write_tree(tmp_path, gnupg_home, HOST, hostile=True)
    roster = tmp_path / "roster"
    roster.write_text(f"{HOST}:\n  host: 192.0.2.10\n")
    calls = []
    monkeypatch.setattr(preflight, "salt_ssh", lambda *a, **k: calls.append(a) or preflight.SaltRun(
        0, {HOST: _answer([])}, ""))
    _no_earlier_runs(monkeypatch)
    started = time.monotonic()
    code = main(["preflight", HOST, "--roster-file", str(roster), "--config-dir", str(tree.config),
                 "--pillar-root", str(tree.pillar)])
    assert time.monotonic() - started < 5
    out, err = capsys.readouterr()
    assert code == 1
    lines = out.splitlines()
    # Salt reads pillar without the bounds: the target is not asked to compile the bombs
    assert calls == []
    assert lines[-2].startswith(f"{HOST}: not checked on the target: Salt would compile a pillar file "
                                "over a YAML bound (")
    _expected(lines[:-2], tree.local)
    assert f"{tree.pillar}/services.sls: root_pw: high-entropy string (" in out
    assert lines[-1] == (f"preflight {HOST}: {len(tree.local) + 1} problem(s) ({len(tree.local)} here, "
                         "1 on the target)")
    assert not any(secret in out + err for secret in SECRETS)


@pytest.mark.parametrize("caller_thread", ["main", "worker"])
def test_local_checks_past_their_time_limit_are_one_problem_naming_the_file(
        tmp_path, gnupg_home, env, monkeypatch, caller_thread):
    tree = write_tree(tmp_path, gnupg_home, HOST)
    conf = saltconfig.setup(tree.config, tree.pillar)
    stuck, release = tree.pillar / "defaults.sls", threading.Event()
    scan = plaintext.findings_in

    def slow_on_defaults(text):
        if text == stuck.read_text():
            release.wait(30)  # as a file that takes forever would
        return scan(text)

    monkeypatch.setattr(plaintext, "findings_in", slow_on_defaults)
    result = []
    started = time.monotonic()
    try:
        if caller_thread == "main":
            result.append(checks.local_problems(conf, time_limit=2))
        else:  # a caller's own worker thread: no signal is involved, so it works there too
            caller = threading.Thread(target=lambda: result.append(checks.local_problems(conf, time_limit=2)))
            caller.start()
            caller.join(10)
    finally:
        release.set()
    [(problems, account)] = result
    assert 2 <= time.monotonic() - started < 4
    assert [p.line() for p in problems] == [
        f"{stuck}: local checks did not finish within 2 s: stopped while this was being read, nothing "
        "after it was checked"]
    assert account == "local checks stopped after 2 s"
