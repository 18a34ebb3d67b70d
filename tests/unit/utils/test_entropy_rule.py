"""The documented entropy rule (_utils/entropy_rule.py): which daemon for which mode and kernel."""

import pytest
from salt.exceptions import CommandExecutionError

from tests.support.saltmods import load

entropy = load("_utils", "entropy_rule")


@pytest.mark.parametrize("release, daemon", [
    ("6.1.0-28-amd64", ""),
    ("5.6.0", ""),
    ("5.10.0-33-cloud-amd64", ""),
    ("5.5.19", "haveged"),
    ("4.19.0-27-amd64", "haveged"),
])
def test_auto_needs_a_daemon_only_before_linux_5_6(release, daemon):
    chosen = entropy.choose("auto", release)
    assert chosen["daemon"] == daemon
    assert release in chosen["reason"]


@pytest.mark.parametrize("mode, daemon", [("haveged", "haveged"), ("rng-tools", "rng-tools"), ("none", "")])
def test_explicit_modes_ignore_the_kernel(mode, daemon):
    assert entropy.choose(mode, "4.19.0")["daemon"] == daemon
    assert entropy.choose(mode, "6.12.0")["daemon"] == daemon


def test_unknown_mode_and_unreadable_kernel_are_errors():
    with pytest.raises(CommandExecutionError, match="one of auto, haveged"):
        entropy.choose("jitter", "6.1.0")
    with pytest.raises(CommandExecutionError, match="kernel version"):
        entropy.choose("auto", "unknown")
