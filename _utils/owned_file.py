"""
Write a file whose mode and owner are final before its first byte, then rename it into place.

Shared by the custom states that write sensitive or identity files (``secret_file``,
``host_identity``): no reader ever sees a partly written file, nor one with looser permissions.
"""

import grp
import os
import pwd
import tempfile


def owner_ids(user, group):
    """Return the numeric (uid, gid) of *user* and *group*; KeyError if either is unknown."""
    return pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid


def write(path, data, mode, uid, gid):
    """Atomically replace *path* with *data* (bytes), created with *mode* and owner uid:gid."""
    fd, tmp = tempfile.mkstemp(prefix=".dsu-write.", dir=os.path.dirname(path) or ".")
    try:
        # mkstemp creates the file 0600 and empty; mode and owner become final before any byte.
        os.fchmod(fd, mode)
        os.fchown(fd, uid, gid)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def drift(path, mode, uid, gid, user, group):
    """What differs between *path*'s mode/owner and the wanted ones: {"mode": …, "owner": …}."""
    info = os.stat(path)
    found = {}
    if info.st_mode & 0o7777 != mode:
        found["mode"] = f"{mode:04o}"
    if (info.st_uid, info.st_gid) != (uid, gid):
        found["owner"] = f"{user}:{group}"
    return found
