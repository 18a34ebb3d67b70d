"""The timesync module's parser of ``chronyc -n tracking`` and the verification state's verdicts."""

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.saltmods import load

module = load("_modules", "timesync")
states = load("_states", "timesync")

UNSYNCED = """Reference ID    : 00000000 ()
Stratum         : 0
System time     : 0.000000000 seconds fast of NTP time
Leap status     : Not synchronised
"""
SYNCED = """Reference ID    : C0A80001 (192.168.0.1)
Stratum         : 3
System time     : 0.000012000 seconds slow of NTP time
Leap status     : Normal
"""


def test_parse_tracking_unsynchronised():
    fields = module.parse_tracking(UNSYNCED)
    assert fields["synced"] is False and fields["Stratum"] == "0"


def test_parse_tracking_synchronised():
    fields = module.parse_tracking(SYNCED)
    assert fields["synced"] is True and fields["Reference ID"].startswith("C0A80001")


def test_parse_tracking_rejects_other_output():
    with pytest.raises(CommandExecutionError):
        module.parse_tracking("506 Cannot talk to daemon")


@pytest.mark.parametrize(("text", "prefix"), [(SYNCED, "synchronised to C0A80001"),
                                              (UNSYNCED, "WARNING: not synchronised")])
def test_state_never_changes_and_warns_when_unsynced(text, prefix):
    states.__salt__ = {"timesync.tracking": lambda: module.parse_tracking(text)}
    states.__opts__ = {"test": False}
    ret = states.verified("chronyd")
    assert ret["result"] is True and ret["changes"] == {}
    assert ret["comment"].startswith(prefix), ret


@pytest.mark.parametrize(("test_mode", "result"), [(False, False), (True, None)])
def test_state_fails_when_chronyd_cannot_be_asked(test_mode, result):
    def broken():
        raise CommandExecutionError("506 Cannot talk to daemon")

    states.__salt__ = {"timesync.tracking": broken}
    states.__opts__ = {"test": test_mode}
    ret = states.verified("chronyd")
    assert ret["result"] is result and "Cannot talk to daemon" in ret["comment"]
