"""The edges every dsu command shares (dsu/cli.py): a bad argument or unusable input file is one
line on stderr and exit 2, refused before the lab or salt-ssh is reached; SIGTERM and SIGHUP
interrupt like Ctrl-C, so cleanup runs, and a second signal does not cut it short."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from dsu import cli
from tests.support.sopskeys import make_age_identity

USAGE_ERROR = re.compile(r"^(dsu(?: [a-z-]+)*): error: .+ \(see \1 --help\)$")


@pytest.fixture(autouse=True)
def nothing_reached(monkeypatch, tmp_path):
    """A lab and artifacts of the test's own, and any step past the checks fails the test: a bad
    argument must be refused before anything happens."""
    for name, value in (("DSU_STATE_DIR", "state"), ("DSU_ARTIFACTS_DIR", "artifacts"),
                        ("DSU_CACHE_DIR", "cache")):
        monkeypatch.setenv(name, str(tmp_path / value))
    monkeypatch.setenv("DSU_LAB_BRIDGE", "dsutestcli")
    monkeypatch.setenv("DSU_LAB_SUBNET", "10.248.250.0/24")

    def reached(*args, **kwargs):
        raise AssertionError("a bad argument reached the lab or salt-ssh")

    for target in ("dsu.lab.hosts.up", "dsu.lab.hosts.down", "dsu.saltssh.salt_ssh",
                   "dsu.preflight.salt_ssh", "dsu.lab.image.ensure_image"):
        monkeypatch.setattr(target, reached)


@pytest.fixture
def files(tmp_path):
    made = {"binary": tmp_path / "binary.yaml", "empty": tmp_path / "empty.yaml",
            "plain": tmp_path / "plain.yaml", "not-json-object": tmp_path / "list.json",
            "dir": tmp_path / "dir", "missing": tmp_path / "missing.yaml"}
    made["binary"].write_bytes(b"\x92\xff\x00sops\x80" * 20)
    made["empty"].write_text("")
    made["plain"].write_text("password: hunter2\n")
    made["not-json-object"].write_text('["not", "a", "summary"]')
    made["dir"].mkdir()
    return {name: str(path) for name, path in made.items()}


def run(argv, capsys):
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


# (argv with {file} names from the files fixture, what the one line must say)
USAGE = [
    (["lab", "up", "demo", "--count", "1000000"],
     "argument --count: must be from 1 to 239 (the lab subnet 10.248.250.0/24 holds 239 hosts), "
     "not 1000000"),
    (["lab", "up", "demo", "--count", "0"], "must be from 1 to 239"),
    (["lab", "up", "demo", "--count", "-3"], "must be from 1 to 239"),
    (["lab", "up", "demo", "--count", "many"], "'many' is not a whole number"),
    (["lab", "up", "Bad_Name"], "invalid lab host name 'Bad_Name'"),
    (["lab", "up", "a" * 32], "invalid lab host name"),
    (["lab", "up", "demo", "--release", "sid"], "invalid choice: 'sid'"),
    (["lab", "up", "demo", "--bogus"], "unrecognized arguments: --bogus"),
    (["lab", "up", "demo", "--like", "cloud"], "argument --like: invalid choice: 'cloud'"),
    (["lab", "up", "demo", "--like", "vps", "--root-password-file", "{missing}"],
     "argument --root-password-file: {missing}: no such file or directory"),
    (["lab", "up", "demo", "--like", "vps", "--root-password-file", "{dir}"], "is a directory"),
    (["lab", "up", "demo", "--like", "vps", "--root-password-file", "{empty}"], "is empty"),
    (["lab", "up", "demo", "--like", "vps", "--root-password-file", "{binary}"],
     "is not UTF-8 text"),
    # The password file is fine (one line), but only a vps-like host takes a password; the
    # message names the option, never the file's content.
    (["lab", "up", "demo", "--root-password-file", "{plain}"],
     "argument --root-password-file: only with --like vps"),
    (["lab", "down", "ok", "Not/Ok"], "invalid lab host name 'Not/Ok'"),
    (["lab", "ssh", "-bad-"], "the following arguments are required"),
    (["lab", "ssh", "9lives"], "invalid lab host name '9lives'"),
    (["lab", "frobnicate"], "invalid choice: 'frobnicate'"),
    (["lab"], "the following arguments are required: COMMAND"),
    ([], "the following arguments are required: COMMAND"),
    (["deploy", "--lab", "demo", "--count", "1000000"], "must be from 1 to 239"),
    (["deploy", "--lab", "Demo"], "invalid lab host name 'Demo'"),
    (["deploy", "--profile", "staging", "web1"], "invalid choice: 'staging'"),
    (["bootstrap"], "the following arguments are required: TARGET"),
    (["deploy", "--lab", "demo", "--out", "{plain}"], "is not a directory"),
    (["deploy", "--lab", "demo", "--out", "{plain}/run"], "is not a directory"),
    (["bench", "fleet", "--count", "1000000"], "must be from 2 to 237"),
    (["bench", "fleet", "--count", "1"], "must be from 2 to 237"),
    (["bench", "health", "--repeats", "0"], "must be from 1 to 100, not 0"),
    (["bench", "health", "--repeats", "101"], "must be from 1 to 100, not 101"),
    (["bench", "sops", "--repeats", "1e3"], "'1e3' is not a whole number"),
    (["bench", "health", "--timeout", "0"], "must be more than 0 and at most 600 seconds"),
    (["bench", "health", "--timeout", "-1"], "must be more than 0 and at most 600 seconds"),
    (["bench", "health", "--timeout", "601"], "must be more than 0 and at most 600 seconds"),
    (["bench", "health", "--timeout", "nan"], "must be more than 0 and at most 600 seconds"),
    (["bench", "health", "--timeout", "inf"], "must be more than 0 and at most 600 seconds"),
    (["bench", "highstate", "--out", "{binary}"], "is not a directory"),
    (["idempotence", "--roles", ","], "argument --roles: no role named"),
    (["idempotence", "--roles", ""], "argument --roles: no role named"),
    (["idempotence", "--roles", "time,,grub"], "an empty role name"),
    (["idempotence", "--jobs", "0"], "must be from 1 to 16, not 0"),
    (["idempotence", "--jobs", "1000"], "must be from 1 to 16, not 1000"),
    (["idempotence", "--pillar", "[1, 2]"], "argument --pillar: must be a JSON object"),
    (["idempotence", "--pillar", '"text"'], "argument --pillar: must be a JSON object"),
    (["idempotence", "--pillar", "{{"], "argument --pillar: not JSON"),  # {{: str.format
    (["idempotence", "--baseline", "{missing}"], "no such file or directory"),
    (["idempotence", "--out", "{binary}"], "is not a directory"),
    (["idempotence", "--extra-root", "{missing}"], "no such file or directory"),
    (["idempotence", "--extra-root", "{dir}"], "has no core/ directory"),
    (["secrets", "add-recipient", "--pgp", "ABC", "--group", "0", "--all"],
     "argument --group: must be at least 1, not 0"),
    (["secrets", "decrypt"], "the following arguments are required: file"),
    (["secrets", "rotate", "--nope"], "unrecognized arguments: --nope"),
    (["preflight"], "the following arguments are required: target"),
]

# Input that passes the parser and is refused by the command: `dsu: error: ...`.
REFUSED = [
    (["deploy"], "name the targets to deploy"),
    (["idempotence", "--roles", "time,nosuch"], "unknown role(s): nosuch"),
    (["idempotence", "--roles", "time", "--baseline", "{binary}"], "cannot read baseline"),
    (["idempotence", "--roles", "time", "--baseline", "{not-json-object}"],
     "is not an idempotence summary ('list')"),
    (["idempotence", "--roles", "time", "--baseline", "{dir}"], "cannot read baseline"),
    (["secrets", "decrypt", "{binary}"], "binary.yaml is not UTF-8 text: not a SOPS file"),
    (["secrets", "decrypt", "{dir}"], "dir: cannot read: Is a directory"),
    (["secrets", "decrypt", "{missing}"], "missing.yaml: cannot read: No such file or directory"),
    (["secrets", "decrypt", "{empty}"], "empty.yaml: not a SOPS file"),
    (["secrets", "decrypt", "{plain}"], "plain.yaml: not a SOPS file"),
    (["secrets", "encrypt", "{binary}", "--age", "age1x"], "is not UTF-8 text: not a YAML or JSON"),
    (["secrets", "encrypt", "{dir}", "--age", "age1x"], "cannot read: Is a directory"),
    (["secrets", "encrypt", "{missing}", "--age", "age1x"], "cannot read: No such file"),
    (["secrets", "encrypt", "{empty}", "--age", "age1x"], "only a mapping can be encrypted"),
    (["secrets", "encrypt", "{plain}", "--config", "{binary}"], "binary.yaml: cannot read"),
    (["secrets", "encrypt", "{plain}", "--config", "{dir}"], "cannot read"),
    (["preflight", "web", "--roster-file", "{binary}"], "is not UTF-8 text"),
    (["preflight", "web", "--roster-file", "{dir}"], "cannot read"),
]


def _argv(argv, files):
    return [a.format(**files) for a in argv]


@pytest.mark.parametrize("argv,says", USAGE, ids=[" ".join(a) or "(none)" for a, _ in USAGE])
def test_bad_argument_is_one_line_and_exit_2(argv, says, files, capsys):
    code, out, err = run(_argv(argv, files), capsys)
    lines = err.splitlines()
    assert code == 2 and out == "" and len(lines) == 1, err
    assert USAGE_ERROR.match(lines[0]) and says.format(**files) in lines[0], lines[0]
    assert "hunter2" not in err  # a file's content is never shown


def test_the_error_names_the_sub_command(files, capsys):
    _, _, err = run(["bench", "health", "--timeout", "0"], capsys)
    assert err.startswith("dsu bench health: error: argument --timeout:")
    assert err.rstrip().endswith("(see dsu bench health --help)")


@pytest.mark.parametrize("argv,says", REFUSED, ids=[" ".join(a) for a, _ in REFUSED])
def test_bad_input_is_one_line_and_exit_2(argv, says, files, capsys):
    code, out, err = run(_argv(argv, files), capsys)
    lines = err.splitlines()
    assert code == 2 and out == "" and len(lines) == 1, err
    assert lines[0].startswith("dsu: error: ") and says in lines[0], lines[0]
    assert "Traceback" not in err


def test_count_is_bounded_by_the_subnet_in_use(monkeypatch, capsys):
    monkeypatch.setenv("DSU_LAB_SUBNET", "10.248.250.0/28")
    code, _, err = run(["lab", "up", "demo", "--count", "5"], capsys)
    assert code == 2 and "must be from 1 to 4 (the lab subnet 10.248.250.0/28 holds 4 hosts)" in err


def test_encrypt_to_a_place_that_cannot_be_written(files, tmp_path, capsys):
    _, recipient = make_age_identity()
    target = tmp_path / "no" / "such" / "dir" / "out.yaml"
    code, _, err = run(["secrets", "encrypt", files["plain"], "--age", recipient,
                        "--output", str(target)], capsys)
    assert code == 2 and err == f"dsu: error: {target}: cannot write: No such file or directory\n"


def test_help_still_works(capsys):
    code, out, err = run(["lab", "up", "--help"], capsys)
    assert code == 0 and out.startswith("usage: dsu lab up") and "--count" in out and err == ""


def test_the_real_entry_point_decrypting_a_binary_file(files):
    """End to end, as an operator runs it: no traceback, one line naming the file."""
    proc = subprocess.run([sys.executable, "-m", "dsu", "secrets", "decrypt", files["binary"]],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"dsu: error: {files['binary']} is not UTF-8 text: not a SOPS file\n"


# --- interruption ---------------------------------------------------------------------------


def _command(monkeypatch, func):
    """Make `dsu test-signal` run *func*."""

    def register(commands):
        commands.add_parser("test-signal").set_defaults(func=func)

    monkeypatch.setattr(cli, "REGISTRARS", (*cli.REGISTRARS, register))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_runs_the_cleanup_and_exits_128_plus_its_number(monkeypatch, capsys, signum):
    cleaned = []

    def long_command(args):
        try:
            os.kill(os.getpid(), signum)
            time.sleep(10)  # the handler raises here, in the main thread
            raise AssertionError("the signal did not interrupt the command")
        finally:
            cleaned.append(True)

    _command(monkeypatch, long_command)
    before = signal.getsignal(signal.SIGTERM)
    code, _, err = run(["test-signal"], capsys)
    assert cleaned == [True]
    assert code == 128 + signum
    assert err == f"dsu: interrupted by {signal.Signals(signum).name}\n"
    assert signal.getsignal(signal.SIGTERM) is before  # handlers are restored


def test_a_second_signal_does_not_cut_the_cleanup_short(monkeypatch, capfd):
    steps = []

    def long_command(args):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            raise AssertionError("the signal did not interrupt the command")
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # impatient operator
            steps.append("cleanup finished")

    _command(monkeypatch, long_command)
    assert cli.main(["test-signal"]) == 128 + signal.SIGTERM
    assert steps == ["cleanup finished"]
    assert capfd.readouterr().err.splitlines() == ["dsu: cleaning up after SIGTERM, please wait",
                                                   "dsu: interrupted by SIGTERM"]


def test_interrupted_idempotence_stops_its_workers_hosts_and_starts_no_more(monkeypatch, tmp_path,
                                                                           capsys):
    """The orchestration alone, with a lab in memory: SIGTERM arrives while two roles are in
    salt-ssh (which, as the real one, ends only once its host is gone); the third role never
    starts, both hosts are stopped by the main thread, and the run leaves no directory."""
    from dsu import idempotence as idem
    from dsu.errors import DsuError
    from dsu.runs import StateRun, StateSummary

    hosts, started = {}, []

    def up(name, count, release, progress, tie_to_parent):
        hosts[name] = True
        started.append(name)
        return [idem.lab.LabHost(name, release, 1, "10.0.0.1", 0, 0.0, "")]

    def down(names, progress=None):
        if any(n not in hosts for n in names):
            raise DsuError(f"no lab host named {names}")
        for name in names:
            del hosts[name]
        return names

    def apply_states(targets, *args, **kwargs):
        if len(started) == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # from a worker: Python raises in the main thread
        deadline = time.monotonic() + 20
        while targets[0] in hosts and time.monotonic() < deadline:
            time.sleep(0.05)
        return StateRun({t: StateSummary(errors=["connection closed"]) for t in targets}, 0.1, None)

    monkeypatch.setattr(idem.lab, "up", up)
    monkeypatch.setattr(idem.lab, "down", down)
    monkeypatch.setattr(idem.lab, "registered", lambda: [idem.lab.LabHost(n, "", 1, "", 0, 0.0, "")
                                                         for n in list(hosts)])
    monkeypatch.setattr(idem, "apply_states", apply_states)
    out = tmp_path / "out"
    began = time.monotonic()
    code, _, err = run(["idempotence", "--roles", "time,grub,memory", "--jobs", "2",
                        "--out", str(out)], capsys)
    assert code == 128 + signal.SIGTERM and time.monotonic() - began < 10, err
    assert len(started) == 2 and hosts == {}, (started, hosts)
    assert err.splitlines()[-1] == "dsu: interrupted by SIGTERM"
    assert list(out.rglob("*")) == []
