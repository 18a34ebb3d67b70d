"""
A stable host identity: a UUID generated once, persisted in a file, never regenerated.

The system this replaces wrote a new identity on every run. This state writes one only when the
file is missing; a file holding a valid UUID is left as it is (its mode and owner are kept
right); a file holding anything else fails the state and is never overwritten, since other
systems may already know the host by it.

.. code-block:: yaml

    core-identity-host-id:
      host_identity.present:
        - name: /etc/deploy-system/host-id
"""

import os
import uuid

__virtualname__ = "host_identity"


def __virtual__():
    if os.name != "posix":
        return (False, "host_identity: only POSIX hosts are supported")
    return __virtualname__


def _valid_uuid(text):
    """True for a UUID in its canonical 8-4-4-4-12 hex form (any case)."""
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


def present(name, mode="0644", user="root", group="root"):
    """
    Ensure the file *name* holds this host's identity, a UUID generated once (version 4).

    name
        Path of the identity file.
    mode
        File mode, as an octal string.
    user, group
        Owner of the file.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    # Looked up outside the try below: a missing utility is not a bad user name.
    owner_ids = __utils__["owned_file.owner_ids"]
    want_mode = int(str(mode), 8)
    try:
        uid, gid = owner_ids(user, group)
    except KeyError as exc:
        ret.update(result=False, comment=f"unknown user or group: {exc}")
        return ret

    if os.path.lexists(name):
        if os.path.islink(name) or not os.path.isfile(name):
            ret.update(result=False,
                       comment=f"{name} exists but is not a regular file; left untouched")
            return ret
        with open(name, encoding="ascii", errors="replace") as handle:
            current = handle.read().strip()
        if not _valid_uuid(current):
            ret.update(result=False, comment=(
                f"{name} exists but does not hold a valid UUID; an identity is never "
                "overwritten: inspect the file, and remove it only if no other system "
                "knows this host by it"))
            return ret
        fixes = __utils__["owned_file.drift"](name, want_mode, uid, gid, user, group)
        if not fixes:
            ret["comment"] = f"host identity {current} is in place"
            return ret
        if __opts__["test"]:
            ret.update(result=None, changes=fixes,
                       comment=f"would fix the mode/owner of {name}; the identity stays")
            return ret
        os.chmod(name, want_mode)
        os.chown(name, uid, gid)
        ret.update(changes=fixes, comment=f"fixed the mode/owner of {name}; the identity stays")
        return ret

    if __opts__["test"]:
        ret.update(result=None, changes={"generated": name},
                   comment=f"would generate a new host identity in {name}")
        return ret
    identity = str(uuid.uuid4())
    parent = os.path.dirname(name)
    if parent and not os.path.isdir(parent):
        os.makedirs(parent, mode=0o755)
    __utils__["owned_file.write"](name, (identity + "\n").encode("ascii"), want_mode, uid, gid)
    ret.update(changes={"generated": name, "identity": identity},
               comment=f"generated host identity {identity} in {name}")
    return ret
