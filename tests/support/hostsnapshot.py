"""What a run may have changed on a lab host: files under the system trees newer than a stamp,
the package list and the mount table. Two changes are expected of any salt-ssh call and are left
out: salt-ssh's own thin directory (/var/tmp/.root_<hash>_salt, updated by every call and removed
by a wiping one, and so /var/tmp itself) and the systemd journal (every SSH login is logged)."""

import re

from dsu.lab import hosts as lab
from dsu.lab.roster import roster_path
from dsu.saltssh import salt_ssh
from tests.integration.conftest import on_host

STAMP = "/run/dsu-snapshot-stamp"
SNAPSHOT = (f"find /etc /var /srv /usr /opt /root /home /boot -xdev "
            f"\\( -newer {STAMP} -o -cnewer {STAMP} \\) -print 2>/dev/null | sort; "
            "echo '--- packages'; dpkg -l | sha256sum; echo '--- mounts'; findmnt -rn -o TARGET | sort")
EXPECTED_CHANGES = re.compile(r"^(/var/tmp|/var/tmp/\.root_[0-9a-f]+_salt(/.*)?|/var/log/journal/.*)$")


def baseline(host):
    """The host's state before the runs under test: salt-ssh's thin is deployed first (test.ping),
    as it is by any salt-ssh call, then the stamp is taken."""
    ping = salt_ssh([host.name], "test.ping", roster=roster_path(lab.lab_dir()))
    assert ping.returns.get(host.name) is True, (ping.returns, ping.stderr[-2000:])
    on_host(host, f"touch {STAMP}")
    return _snapshot(host)


def _snapshot(host):
    changed, _, rest = on_host(host, SNAPSHOT).partition("--- packages\n")
    unexpected = [path for path in changed.splitlines() if not EXPECTED_CHANGES.match(path)]
    return unexpected, rest


def assert_unchanged(host, before, what="the run"):
    """Fail naming what changed on *host* since *before* (a baseline)."""
    unexpected, rest = _snapshot(host)
    assert unexpected == [], f"{what} changed the host: {unexpected}"
    assert rest == before[1], f"{what} changed the package list or the mount table"
