"""sshd_config.managed: the drop-in's text, the effective-configuration check, and the write /
check / restore / reload sequence with sshd and systemctl faked."""

import os

import pytest

from tests.support.saltmods import load, utils

OLD = "# earlier\nPort 22\n"


class Host:
    """cmd.run_all as sshd and systemctl answer it; *calls* records every argv."""

    def __init__(self, dropin):
        self.dropin, self.calls = dropin, []
        self.test_error, self.active, self.reload_rc = "", True, 0
        self.dump = None  # sshd -T output; None: from the drop-in on disk

    def __call__(self, argv, **kwargs):
        self.calls.append(argv)
        if argv[1:] == ["-t"]:
            return {"retcode": 1 if self.test_error else 0, "stdout": "", "stderr": self.test_error}
        if argv[1] == "-T":
            text = self.dump if self.dump is not None else self.dropin.read_text().lower()
            return {"retcode": 0, "stdout": text, "stderr": ""}
        if argv[:2] == ["systemctl", "is-active"]:
            return {"retcode": 0 if self.active else 3, "stdout": "", "stderr": ""}
        if argv[:2] == ["systemctl", "reload"]:
            return {"retcode": self.reload_rc, "stdout": "", "stderr": "Job failed"}
        raise AssertionError(argv)

    def reloaded(self):
        return any(argv[:2] == ["systemctl", "reload"] for argv in self.calls)


@pytest.fixture
def dropin(tmp_path):
    (tmp_path / "sshd_config.d").mkdir()
    return tmp_path / "sshd_config.d" / "10-dsu-access.conf"


@pytest.fixture
def module(dropin, tmp_path):
    host = Host(dropin)
    mod = load("_states", "sshd_config", opts={"test": False}, salt={"cmd.run_all": host},
               utils=utils("owned_file"), grains={"kernel": "Linux"})
    mod.SSHD = os.__file__  # any file that exists: sshd itself is faked
    mod.SSHD_CONFIG = str(tmp_path / "sshd_config")
    mod.OWNER = (os.getuid(), os.getgid())
    mod.host = host
    return mod


def managed(module, dropin, test=False, **kwargs):
    module.__opts__["test"] = test
    kwargs.setdefault("ports", [2222])
    kwargs.setdefault("permit_root_login", "no")
    return module.managed(str(dropin), check_user="deploy", **kwargs)


def test_render_orders_ports_then_named_options_then_settings():
    module = load("_states", "sshd_config")
    text = module.render([22, 2222, 22], "no", False, {"MaxAuthTries": 3, "X11Forwarding": False})
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == ["Port 22", "Port 2222", "PermitRootLogin no", "PasswordAuthentication no",
                     "MaxAuthTries 3", "X11Forwarding no"]
    assert "PermitRootLogin" not in module.render([2222], None)


@pytest.mark.parametrize(("args", "error"), [
    (([],), "non-empty list"),
    (([0],), "not a TCP port"),
    (([True],), "not a TCP port"),
    (([22], "nope"), "permit_root_login"),
    (([22], None, None, {"Port": 22}), "cannot be set through settings"),
    (([22], None, None, {"match": "User x"}), "cannot be set through settings"),
    (([22], None, None, {"Ciphers": "aes128-ctr\nPermitRootLogin yes"}), "one printable line"),
    (([22], None, None, {"Bad Option": "x"}), "not an sshd option name"),
])
def test_render_refuses_what_would_not_be_one_option_per_line(args, error):
    module = load("_states", "sshd_config")
    with pytest.raises(ValueError, match=error):
        module.render(*args)


def test_effective_values_are_compared_and_the_winning_file_named(module, dropin, tmp_path):
    (tmp_path / "sshd_config").write_text("Include /etc/ssh/sshd_config.d/*.conf\nPort 22\n")
    (dropin.parent / "00-other.conf").write_text("PermitRootLogin yes\n")
    effective = module.parse_effective("port 22\nport 2222\npermitrootlogin yes\n")
    found = module.mismatches(effective, [2222], "no", None, str(dropin))
    assert len(found) == 2
    assert found[0].startswith("Port in force is 22 2222, not 2222") and "sshd_config" in found[0]
    assert "PermitRootLogin in force is yes, not no" in found[1] and "00-other.conf" in found[1]
    # sshd -T prints prohibit-password by its old name
    alias = module.parse_effective("port 2222\npermitrootlogin without-password\n")
    assert module.mismatches(alias, [2222], "prohibit-password") == []


def test_writes_checks_and_reloads_then_changes_nothing(module, dropin):
    first = managed(module, dropin, settings={"MaxAuthTries": 3})
    assert first["result"] is True, first
    assert first["changes"]["reloaded"] == "ssh" and "+Port 2222" in first["changes"]["diff"]
    assert "MaxAuthTries 3" in dropin.read_text()
    assert oct(dropin.stat().st_mode & 0o777) == "0o644"
    module.host.calls.clear()
    again = managed(module, dropin, settings={"MaxAuthTries": 3})
    assert again["result"] is True and again["changes"] == {}, again
    assert "effective configuration" in again["comment"] and not module.host.reloaded()
    assert [p.name for p in dropin.parent.iterdir()] == [dropin.name]


def test_test_mode_shows_the_diff_and_writes_nothing(module, dropin):
    dropin.write_text(OLD)
    ret = managed(module, dropin, test=True)
    assert ret["result"] is None and "-Port 22" in ret["changes"]["diff"]
    assert dropin.read_text() == OLD and module.host.calls == []


def test_sshd_refusing_the_file_restores_the_old_one_without_reload(module, dropin):
    dropin.write_text(OLD)
    module.host.test_error = "line 4: Bad SSH2 cipher spec 'no-such-cipher'."
    ret = managed(module, dropin, settings={"Ciphers": "no-such-cipher"})
    assert ret["result"] is False and ret["changes"] == {}
    assert "Bad SSH2 cipher spec 'no-such-cipher'" in ret["comment"]
    assert dropin.read_text() == OLD and not module.host.reloaded()


def test_a_new_file_is_removed_again_when_another_file_wins(module, dropin):
    module.host.dump = "port 22\npermitrootlogin no\n"
    ret = managed(module, dropin)
    assert ret["result"] is False and "Port in force is 22, not 2222" in ret["comment"]
    assert "new file removed" in ret["comment"]
    assert not dropin.exists() and not module.host.reloaded()


def test_a_failed_reload_puts_the_old_file_back(module, dropin):
    dropin.write_text(OLD)
    module.host.reload_rc = 1
    ret = managed(module, dropin)
    assert ret["result"] is False and "reload ssh failed: Job failed" in ret["comment"]
    assert dropin.read_text() == OLD


def test_no_reload_when_ssh_is_not_running(module, dropin):
    module.host.active = False
    ret = managed(module, dropin)
    assert ret["result"] is True and ret["changes"]["reloaded"].startswith("no: ssh is not running")
    assert not module.host.reloaded()
