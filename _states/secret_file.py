"""
Secret files written from pillar, without the secret ever entering the state output.

The state takes the *pillar key* of the secret, not its value, so the value is not in the
rendered state data, in argument lists, in error messages, or in the return: the comment and the
changes only say that a file was written or verified. A file is written to a temporary file
beside the target that has its final mode and owner from the start, renamed into place, then read
back and compared with the pillar value by SHA-256 digest.

.. code-block:: yaml

    core-secrets-file-db-password:
      secret_file.present:
        - name: /etc/deploy-system/secrets/db-password
        - value_key: secrets:values:db_password
        - mode: '0600'
"""

import hashlib
import os

import salt.utils.data

__virtualname__ = "secret_file"

_MISSING = object()


def __virtual__():
    if os.name != "posix":
        return (False, "secret_file: only POSIX hosts are supported")
    return __virtualname__


def _digest_of_file(path):
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(65536), b""):
            sha.update(block)
    return sha.hexdigest()


def _secret_bytes(value_key):
    value = salt.utils.data.traverse_dict_and_list(__pillar__, value_key, _MISSING)
    if value is _MISSING or value is None:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, (dict, list)):
        raise TypeError("is a mapping or a list, not a single value")
    return str(value).encode("utf-8")


def present(name, value_key, mode="0600", user="root", group="root"):
    """
    Ensure the file *name* holds the pillar value at *value_key* with the given mode and owner.

    name
        Path of the secret file; its directory must exist.
    value_key
        Colon-separated pillar key of the secret, e.g. ``secrets:values:db_password``.
    mode
        File mode, as an octal string; defaults to ``0600``.
    user, group
        Owner of the file.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    # Looked up outside the try below: a missing utility is not a bad user name.
    owner_ids = __utils__["owned_file.owner_ids"]
    try:
        want_mode = int(str(mode), 8)
        uid, gid = owner_ids(user, group)
    except (ValueError, KeyError) as exc:
        ret.update(result=False, comment=f"bad mode, user or group for {name}: {exc}")
        return ret
    try:
        data = _secret_bytes(value_key)
    except TypeError as exc:
        ret.update(result=False, comment=f"pillar key {value_key} {exc}")
        return ret
    if data is None:
        ret.update(result=False, comment=f"pillar key {value_key} is not set; {name} not written")
        return ret
    want = hashlib.sha256(data).hexdigest()

    if os.path.islink(name) or (os.path.lexists(name) and not os.path.isfile(name)):
        ret.update(result=False, comment=f"{name} exists but is not a regular file")
        return ret
    if not os.path.isdir(os.path.dirname(name) or "."):
        ret.update(result=False, comment=f"the directory of {name} does not exist")
        return ret

    fixes = {}
    if os.path.exists(name):
        if _digest_of_file(name) != want:
            fixes["content"] = "rewritten"
        fixes.update(__utils__["owned_file.drift"](name, want_mode, uid, gid, user, group))
    else:
        fixes["content"] = "written"
    if not fixes:
        ret["comment"] = f"secret file {name} verified: content digest, mode and owner match"
        return ret

    if __opts__["test"]:
        ret.update(result=None, changes=fixes,
                   comment=f"secret file {name} would be updated ({', '.join(sorted(fixes))})")
        return ret
    if "content" in fixes:
        __utils__["owned_file.write"](name, data, want_mode, uid, gid)
    else:
        os.chown(name, uid, gid)
        os.chmod(name, want_mode)
    if _digest_of_file(name) != want:
        ret.update(result=False, changes=fixes,
                   comment=f"secret file {name} failed its integrity check after writing")
        return ret
    ret.update(changes=fixes, comment=(
        f"secret file {name} updated ({', '.join(sorted(fixes))}) and verified by digest"))
    return ret
