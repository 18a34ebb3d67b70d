"""The gpg-agents dsu starts are stopped when it is done (dsu/secrets/agents.py), with real GnuPG
homes and agents: one started within the block is stopped, one found running is left running (the
operator's own), a home shared with another dsu process is stopped by the last one out."""

import subprocess
import sys

import pytest

from dsu.secrets import agents
from tests.conftest import REPO
from tests.support.sopskeys import stop_gpg_agent


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "gnupg"
    path.mkdir(mode=0o700)
    try:
        yield path
    finally:
        stop_gpg_agent(path)


def _start(home):
    """What gpg does on first use of a home: start its agent."""
    subprocess.run(["gpg-connect-agent", "--homedir", str(home), "/bye"], check=True,
                   capture_output=True)
    assert agents.agent_running(home)


def test_an_agent_started_within_is_stopped_after(home):
    assert not agents.agent_running(home)
    with agents.stopped_after(home, None, ""):
        _start(home)
    assert not agents.agent_running(home)


def test_it_is_stopped_however_the_block_ends(home):
    with pytest.raises(RuntimeError), agents.stopped_after(home):
        _start(home)
        raise RuntimeError("the command failed")
    assert not agents.agent_running(home)


def test_an_agent_found_running_is_left_running(tmp_path, home, monkeypatch):
    """The operator's own agent, in the default home as in any other, is not dsu's to stop."""
    monkeypatch.setenv("HOME", str(tmp_path))
    assert agents.default_home() == tmp_path / ".gnupg"
    default = agents.default_home()
    default.mkdir(mode=0o700)
    try:
        _start(home)
        _start(default)
        with agents.stopped_after(home, default):
            _start(home)
        assert agents.agent_running(home) and agents.agent_running(default)
    finally:
        stop_gpg_agent(default)


def test_a_home_made_within_is_a_home_dsu_started(tmp_path):
    made = tmp_path / "made"
    try:
        with agents.stopped_after(made):
            made.mkdir(mode=0o700)  # python-gnupg makes a missing home
            _start(made)
        assert not agents.agent_running(made)
    finally:
        stop_gpg_agent(made)


def test_nested_users_in_one_process_stop_it_once_the_outer_one_ends(home):
    with agents.stopped_after(home):
        with agents.stopped_after(home):
            _start(home)
        assert agents.agent_running(home)
    assert not agents.agent_running(home)


def test_another_dsu_process_using_the_home_keeps_its_agent(home):
    """A deploy beside a preflight, both in one key directory: neither pulls the agent from under
    the other; the last one out stops it."""
    other = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom dsu.secrets import agents\n"
         f"with agents.stopped_after({str(home)!r}):\n    print('in', flush=True)\n"
         "    sys.stdin.readline()\n"],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline() == "in\n"
        with agents.stopped_after(home):
            _start(home)
        assert agents.agent_running(home), "stopped while another dsu process still uses it"
        other.communicate("done\n", timeout=30)
        assert other.returncode == 0
        assert not agents.agent_running(home), "the last one out did not stop it"
    finally:
        other.kill()
        other.wait()


def test_the_homes_of_a_command_are_salts_key_directories_gnupghome_and_the_default(
        tmp_path, monkeypatch):
    config = tmp_path / "config"
    config.mkdir()
    (config / "master").write_text(f"pillar_roots:\n  base: [{tmp_path}]\n"
                                   f"sops_gnupghome: {tmp_path / 'sops'}\n")
    monkeypatch.setenv("GNUPGHOME", str(tmp_path / "env"))
    monkeypatch.setenv("HOME", str(tmp_path / "op"))
    assert agents.command_homes(config) == [tmp_path / "env", config / "gpgkeys", tmp_path / "sops",
                                            tmp_path / "op/.gnupg"]
    # A config that cannot be read names no key directory; the command itself says why.
    assert agents.command_homes(tmp_path / "nowhere") == [tmp_path / "env", tmp_path / "op/.gnupg"]
