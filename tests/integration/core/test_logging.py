"""core.logging on a fresh Debian 12 lab host: persistent rate-limited journal, rsyslog, forwarding
from pillar (a real message reaches a listener), logrotate policy; idempotent."""

import socket
import threading
import uuid

from tests.integration.conftest import converge, on_host

DROPIN = "/etc/systemd/journald.conf.d/50-dsu-logging.conf"
FORWARD = "/etc/rsyslog.d/60-dsu-forward.conf"


def test_logging_defaults_make_journal_persistent_and_rsyslog_run(fresh_host):
    host = fresh_host()
    # Start from a volatile journal (as on a host without /var/log/journal): the role must make
    # it persistent and keep what was logged before.
    marker = f"dsu-volatile-marker-{uuid.uuid4()}"
    on_host(host, f"rm -rf /var/log/journal && systemctl restart systemd-journald "
                  f"&& logger -t dsu-test {marker}")
    converge(host, "core.logging")

    assert on_host(host, "stat -c '%a %U %G' /var/log/journal").split() == \
        ["2755", "root", "systemd-journal"]
    dropin = on_host(host, f"cat {DROPIN}")
    for line in ("Storage=persistent", "RateLimitIntervalSec=30s", "RateLimitBurst=10000",
                 "SystemMaxUse=1G", "MaxRetentionSec=1month"):
        assert line in dropin.splitlines(), dropin
    # journald runs with the drop-in: its journal lives on disk, not in /run.
    assert on_host(host, "systemctl is-active systemd-journald").strip() == "active"
    on_host(host, "ls /var/log/journal/$(cat /etc/machine-id)/system.journal")
    on_host(host, "test -z \"$(find /run/log/journal -name '*.journal')\"")
    assert marker in on_host(host, "journalctl -D /var/log/journal --no-pager -t dsu-test")
    assert "Storage=persistent" in on_host(host, "systemd-analyze cat-config "
                                                 "systemd/journald.conf")

    assert on_host(host, "systemctl is-active rsyslog").strip() == "active"
    assert on_host(host, "systemctl is-enabled rsyslog").strip() == "enabled"
    on_host(host, f"test ! -e {FORWARD}")

    policy = on_host(host, "cat /etc/logrotate.d/deploy-system")
    assert "/var/log/deploy-system/*.log {" in policy and "rotate 14" in policy, policy
    debug = on_host(host, "logrotate -d /etc/logrotate.d/deploy-system 2>&1")
    assert "rotating pattern: /var/log/deploy-system/*.log" in debug, debug


def _listen_tcp(address):
    """A one-connection TCP syslog collector on the lab bridge; returns (port, received, done)."""
    server = socket.create_server((address, 0))
    server.settimeout(60)
    received = []
    done = threading.Event()

    def serve():
        try:
            conn, _ = server.accept()
            conn.settimeout(30)
            with conn:
                while not done.is_set():
                    data = conn.recv(65536)
                    if not data:
                        break
                    received.append(data.decode(errors="replace"))
                    if "dsu-forward-probe" in "".join(received):
                        done.set()
        except OSError:
            pass
        finally:
            server.close()
            done.set()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1], received, done


def test_logging_forwarding_from_pillar_reaches_a_collector(fresh_host):
    host = fresh_host()
    gateway = on_host(host, "ip -4 route show default").split()[2]
    port, received, done = _listen_tcp(gateway)
    pillar = {"core": {"logging": {"forwarding": {
        "enabled": True, "target": gateway, "port": port, "protocol": "tcp"}}}}
    converge(host, "core.logging", pillar)

    rule = on_host(host, f"cat {FORWARD}")
    assert f'target="{gateway}"' in rule and f'port="{port}"' in rule, rule
    assert 'protocol="tcp"' in rule, rule
    on_host(host, "rsyslogd -N1")
    assert on_host(host, "systemctl is-active rsyslog").strip() == "active"

    probe = f"dsu-forward-probe {uuid.uuid4()}"
    on_host(host, f"logger -t dsu-test '{probe}'")
    assert done.wait(30), "no connection from rsyslog"
    assert probe in "".join(received), received
