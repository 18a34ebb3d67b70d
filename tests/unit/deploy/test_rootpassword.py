"""First contact with root's password: the password reaches sshpass through a pipe only (never
an argument or the environment), ssh tries it once, a refusal is said without it."""

import os
import subprocess

import pytest

from dsu.deploy import rootpassword
from dsu.errors import DsuError
from dsu.password import Password
from dsu.targets import Target

SECRET = "canary-root-pw-7d3f"


class FakeSshpass:
    """Stands in for sshpass: reads the password from the fd it was given, like sshpass -d."""

    seen: dict = {}

    def __init__(self, argv, pass_fds=(), **kwargs):
        fd = int(argv[argv.index("-d") + 1])
        assert fd in pass_fds
        FakeSshpass.seen = {"argv": argv, "env": kwargs.get("env"), "fd": fd}
        self.fd = os.dup(fd)  # the child's own copy, as a real child has
        self.returncode = None

    def communicate(self, timeout=None):
        with os.fdopen(self.fd, "r") as pipe:
            FakeSshpass.seen["password"] = pipe.readline().rstrip("\n")
        self.returncode = 0 if FakeSshpass.seen["password"] == SECRET else 5
        return "", "Permission denied, please try again."

    def kill(self):
        pass

    def wait(self):
        return self.returncode


def test_the_password_travels_through_a_pipe_only(monkeypatch):
    monkeypatch.setattr(subprocess, "Popen", FakeSshpass)
    target = Target("web1", "192.0.2.10", priv="/keys/id")
    rootpassword.install_key_with_password(target, "ssh-ed25519 AAAA op", Password(SECRET))
    seen = FakeSshpass.seen
    assert seen["password"] == SECRET
    assert not any(SECRET in arg for arg in seen["argv"]) and seen["env"] is None
    assert "NumberOfPasswordPrompts=1" in seen["argv"] and "PubkeyAuthentication=no" in seen["argv"]
    assert seen["argv"][-2] == "root@192.0.2.10"


def test_a_refused_password_is_said_without_it(monkeypatch):
    monkeypatch.setattr(subprocess, "Popen", FakeSshpass)
    with pytest.raises(DsuError, match="root's password was refused") as caught:
        rootpassword.install_key_with_password(Target("web1", "192.0.2.10"), "ssh-ed25519 AAAA",
                                               Password("wrong-" + SECRET))
    assert SECRET not in caught.value.one_line()
    assert SECRET not in repr(Password(SECRET))
