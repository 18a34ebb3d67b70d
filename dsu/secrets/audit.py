"""The secrets audit log: one JSON line per migrate/rotate action (docs/schemas/secrets-audit.v1.json),
naming paths, recipient ids and actions only, never a data key or a value."""

import datetime
import getpass
import json
import os
import socket
from typing import Any

from dsu import __version__
from dsu.secrets.layout import Layout

AUDIT_SCHEMA = "deploy-system-unified/secrets-audit/v1"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return f"uid{os.getuid()}"


def append_audit(layout: Layout, action: str, files: list[dict[str, Any]],
                 **details: Any) -> dict[str, Any]:
    """Append one entry to the audit log; return it. One write() of one line on an O_APPEND
    descriptor, so concurrent runs cannot interleave."""
    entry = {"schema": AUDIT_SCHEMA,
             "time": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "who": f"{_user()}@{socket.gethostname()}",
             "tool": f"dsu {__version__}",
             "action": action, **details, "files": files}
    line = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
    layout.audit_log.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(layout.audit_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return entry
