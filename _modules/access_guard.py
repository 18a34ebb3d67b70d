"""
The access guard: a dead-man timer for changes that could lock the operator out (the SSH drop-in,
the nftables ruleset and whether nftables runs).

``arm`` snapshots those into ``/var/lib/deploy-system/access-guard/snapshot.json``, writes the
standalone revert program ``/usr/local/sbin/dsu-access-revert`` and starts a transient systemd
timer. Unless ``disarm`` runs first, the timer runs the program, which puts the files and
nftables back as they were, then reloads ssh if ``sshd -t`` accepts the result. The program
imports nothing from Salt: salt-ssh's working directory may be gone by the time it fires, and an
operator who lost the connection is the reason it fires at all.

Arming again replaces the timer and takes a new snapshot (what is in place then is what a later
revert restores). A transient timer does not survive a reboot.
"""

import base64
import contextlib
import datetime
import errno
import fcntl
import json
import os
import time

from salt.exceptions import CommandExecutionError

__virtualname__ = "access_guard"

GUARD_DIR = "/var/lib/deploy-system/access-guard"
PROGRAM = "/usr/local/sbin/dsu-access-revert"
UNIT = "dsu-access-revert"
DEFAULT_FILES = ("/etc/ssh/sshd_config.d/10-dsu-access.conf", "/etc/nftables.conf")
MIN_SECONDS, MAX_SECONDS = 5, 86400
LOCK_WAIT_SECONDS = 60

# The revert program. Kept to the standard library of the host's python3; it takes the guard's
# lock (a timer firing while the module arms or disarms waits, and the other way round), keeps
# the snapshot when a step fails (revert can run again), logs to stdout (the journal: the timer's
# service, or systemd-cat under access_guard.revert) and leaves its record in last-revert.json.
REVERT_PROGRAM = r'''#!/usr/bin/python3 -I
"""dsu-access-revert: put back what deploy-system-unified's access guard snapshotted (written by
the access_guard Salt module; standalone). Usage: dsu-access-revert [SNAPSHOT]"""
import base64
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time

SNAPSHOT = sys.argv[1] if len(sys.argv) > 1 else "@SNAPSHOT@"
os.environ.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
LOG = []


def log(message):
    LOG.append(message)
    print("dsu-access-revert: " + message, flush=True)


def run(*argv):
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        return 127, "", str(exc)
    return proc.returncode, proc.stdout.strip(), proc.stderr.strip()


def restore(entry):
    path = entry["path"]
    if entry["content"] is None:
        if os.path.lexists(path):
            os.unlink(path)
            log(path + ": removed (absent when armed)")
        else:
            log(path + ": absent, as when armed")
        return
    data = base64.b64decode(entry["content"])
    try:
        info = os.lstat(path)
        with open(path, "rb") as handle:
            same = handle.read() == data
        if same and (info.st_mode & 0o7777, info.st_uid, info.st_gid) == (
                entry["mode"], entry["uid"], entry["gid"]):
            log(path + ": unchanged since armed")
            return
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=".dsu-revert.", dir=os.path.dirname(path))
    try:
        os.fchmod(fd, entry["mode"])
        os.fchown(fd, entry["uid"], entry["gid"])
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    log(path + ": restored")


def step(what, argv):
    code, out, err = run(*argv)
    if code != 0:
        log(what + " failed: " + (err or out or f"exit code {code}"))
        return False
    log(what)
    return True


def nftables(state):
    unit = state["unit"]
    ok = True
    known = run("systemctl", "cat", unit)[0] == 0
    enabled_now = run("systemctl", "is-enabled", unit)[1]
    if state["enabled"] == "enabled" and enabled_now != "enabled":
        ok &= step("enabled " + unit, ["systemctl", "enable", unit])
    elif state["enabled"] != "enabled" and enabled_now == "enabled":
        ok &= step("disabled " + unit, ["systemctl", "disable", unit])
    if state["active"] == "active":
        # reload: nft -f of the restored file, one transaction.
        ok &= step("reloaded " + unit, ["systemctl", "reload-or-restart", unit])
    else:
        if known and run("systemctl", "is-active", unit)[1] == "active":
            ok &= step("stopped " + unit, ["systemctl", "stop", unit])
        if run("nft", "--version")[0] == 0:
            ok &= step("flushed the nftables ruleset (inactive when armed)",
                       ["nft", "flush", "ruleset"])
    return ok


def sshd(state):
    code, out, err = run("sshd", "-t")
    if code != 0:
        log("sshd -t refuses the restored configuration, " + state["unit"] + " not reloaded: "
            + (err or out))
        return False
    return step("reloaded " + state["unit"], ["systemctl", "reload-or-restart", state["unit"]])


def finish(snapshot, ok):
    record = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "result": "reverted" if ok else "failed", "log": LOG}
    directory = os.path.dirname(snapshot)
    fd, tmp = tempfile.mkstemp(prefix=".last-revert.", dir=directory)
    with os.fdopen(fd, "w") as handle:
        json.dump(record, handle)
    os.replace(tmp, os.path.join(directory, "last-revert.json"))
    if ok:
        os.unlink(snapshot)


def main():
    directory = os.path.dirname(SNAPSHOT)
    if not os.path.isdir(directory):
        log("no snapshot (" + SNAPSHOT + "): nothing to revert")
        return 0
    with open(os.path.join(directory, "lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(SNAPSHOT) as handle:
                snapshot = json.load(handle)
        except FileNotFoundError:
            log("no snapshot (" + SNAPSHOT + "): nothing to revert")
            return 0
        log("reverting to the state of " + snapshot["armed_at"])
        ok = True
        for entry in snapshot["files"]:
            try:
                restore(entry)
            except OSError as exc:
                log(entry["path"] + ": not restored: " + str(exc))
                ok = False
        ok &= nftables(snapshot["nftables"])
        ok &= sshd(snapshot["ssh"])
        finish(SNAPSHOT, ok)
        log("done" if ok else "some steps failed; the snapshot is kept, run me again")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
'''


def __virtual__():
    if __grains__.get("kernel") != "Linux":
        return (False, "access_guard: only Linux hosts are supported")
    if not os.path.isdir("/run/systemd/system"):
        return (False, "access_guard: needs systemd as init (its timer is a systemd timer)")
    return __virtualname__


def _snapshot_path():
    return os.path.join(GUARD_DIR, "snapshot.json")


def _run(argv):
    return __salt__["cmd.run_all"](argv, python_shell=False, ignore_retcode=True,
                                   output_loglevel="debug")


def _out(ret):
    return (ret.get("stderr") or ret.get("stdout") or f"exit code {ret.get('retcode')}").strip()


@contextlib.contextmanager
def _locked():
    """The guard's lock, shared with the revert program."""
    os.makedirs(GUARD_DIR, mode=0o700, exist_ok=True)
    os.chmod(GUARD_DIR, 0o700)
    with open(os.path.join(GUARD_DIR, "lock"), "a") as lock:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                    raise CommandExecutionError(
                        f"the access guard's lock {GUARD_DIR}/lock is held (a revert running?)"
                    ) from exc
                time.sleep(0.2)
        yield


def _write(path, data, mode):
    # final mode before the first byte, renamed into place (the snapshot is root's alone)
    __utils__["owned_file.write"](path, data, mode, os.getuid(), os.getgid())


def _file_state(path):
    """A guarded file as the snapshot keeps it: content (base64), mode and owner, or absent."""
    try:
        info = os.lstat(path)
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return {"path": path, "content": None}
    return {"path": path, "content": base64.b64encode(data).decode(),
            "mode": info.st_mode & 0o7777, "uid": info.st_uid, "gid": info.st_gid}


def _unit_state(unit):
    enabled = _run(["systemctl", "is-enabled", unit])["stdout"].strip() or "not-found"
    active = _run(["systemctl", "is-active", unit])["stdout"].strip() or "unknown"
    return {"unit": unit, "enabled": enabled, "active": active}


def _stop_timer():
    """Stop the timer (not a revert that is running: callers hold the lock). True if it ran."""
    was = _run(["systemctl", "is-active", "--quiet", f"{UNIT}.timer"])["retcode"] == 0
    if was:
        _run(["systemctl", "stop", f"{UNIT}.timer"])
    # A failed revert's units stay loaded under the name systemd-run needs.
    for unit in (f"{UNIT}.timer", f"{UNIT}.service"):
        if _run(["systemctl", "is-failed", "--quiet", unit])["retcode"] == 0:
            _run(["systemctl", "reset-failed", unit])
    return was


def _seconds(seconds):
    try:
        value = int(seconds)
    except (TypeError, ValueError):
        value = None
    if value is None or isinstance(seconds, bool) or str(value) != str(seconds).strip() \
            or not MIN_SECONDS <= value <= MAX_SECONDS:
        raise CommandExecutionError(
            f"seconds must be a whole number from {MIN_SECONDS} to {MAX_SECONDS}, not {seconds!r}")
    return value


def arm(seconds=300, files=None, ssh_service="ssh", nft_service="nftables"):
    """
    Snapshot the guarded files and nftables' state, write the revert program and start (or
    restart) the timer that runs it in *seconds*. Returns the snapshot's summary.

    files
        The guarded files (default: the SSH drop-in and /etc/nftables.conf).
    ssh_service, nft_service
        The units the revert reloads (ssh) and restores (nftables).

    CLI Example:

    .. code-block:: bash

        salt '*' access_guard.arm 300
    """
    seconds = _seconds(seconds)
    files = list(files or DEFAULT_FILES)
    if not all(isinstance(p, str) and os.path.isabs(p) for p in files):
        raise CommandExecutionError(f"files must be absolute paths: {files!r}")
    with _locked():
        _stop_timer()
        now = datetime.datetime.now(datetime.UTC)
        snapshot = {
            "version": 1,
            "armed_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "seconds": seconds,
            "fires_at": (now + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "files": [_file_state(path) for path in files],
            "nftables": _unit_state(f"{nft_service}.service"),
            "ssh": {"unit": f"{ssh_service}.service"},
        }
        _write(_snapshot_path(), json.dumps(snapshot, indent=1).encode(), 0o600)
        os.makedirs(os.path.dirname(PROGRAM), exist_ok=True)
        _write(PROGRAM, REVERT_PROGRAM.replace("@SNAPSHOT@", _snapshot_path()).encode(), 0o700)
        started = _run(["systemd-run", f"--unit={UNIT}", "--collect", "--property=Type=oneshot",
                        "--description=deploy-system-unified access guard: revert SSH and firewall",
                        f"--on-active={seconds}s", "--timer-property=AccuracySec=1s", PROGRAM])
        if started["retcode"] != 0:
            os.unlink(_snapshot_path())
            raise CommandExecutionError(f"systemd-run could not start the timer: {_out(started)}")
    return {"armed": True, "seconds": seconds, "fires_at": snapshot["fires_at"],
            "snapshot": _snapshot_path(),
            "files": {f["path"]: "absent" if f["content"] is None else "saved"
                      for f in snapshot["files"]},
            "nftables": {k: v for k, v in snapshot["nftables"].items() if k != "unit"}}


def _last_revert():
    try:
        with open(os.path.join(GUARD_DIR, "last-revert.json")) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def status():
    """
    Whether the guard is armed (its timer waits), when it fires, and the last revert's record.

    CLI Example:

    .. code-block:: bash

        salt '*' access_guard.status
    """
    timer = _run(["systemctl", "is-active", f"{UNIT}.timer"])["stdout"].strip() or "inactive"
    try:
        with open(_snapshot_path()) as handle:
            snapshot = json.load(handle)
    except FileNotFoundError:
        snapshot = None
    ret = {"armed": timer == "active" and snapshot is not None, "timer": timer,
           "snapshot": None, "last_revert": _last_revert()}
    if snapshot:
        ret["snapshot"] = {"path": _snapshot_path(), "armed_at": snapshot["armed_at"],
                           "fires_at": snapshot["fires_at"], "seconds": snapshot["seconds"],
                           "files": [f["path"] for f in snapshot["files"]]}
    return ret


def disarm():
    """
    Stop the timer and remove the snapshot: the changes made since arming stay. Raises
    CommandExecutionError when nothing was armed (the timer may have fired: see
    ``last_revert`` in the message and in ``access_guard.status``).

    CLI Example:

    .. code-block:: bash

        salt '*' access_guard.disarm
    """
    with _locked():
        timer = _stop_timer()
        snapshot = os.path.exists(_snapshot_path())
        if snapshot:
            os.unlink(_snapshot_path())
    if not timer and not snapshot:
        last = _last_revert()
        fired = f"; last revert: {last['result']} at {last['at']}" if last else ""
        raise CommandExecutionError(f"the access guard is not armed, nothing to disarm{fired}")
    return {"disarmed": True, "timer": "stopped" if timer else "was not running",
            "snapshot": "removed" if snapshot else "was absent"}


def revert():
    """
    Revert now to the snapshot, as the timer would (the timer is stopped first). The program's
    lines go to the journal (``journalctl -t dsu-access-revert``) and come back in ``log``;
    raises CommandExecutionError when a step failed (the snapshot is kept: revert can run again).

    CLI Example:

    .. code-block:: bash

        salt '*' access_guard.revert
    """
    with _locked():
        _stop_timer()
        armed = os.path.exists(_snapshot_path())
    if not armed:
        return {"reverted": False, "log": ["no snapshot: nothing to revert"]}
    if not os.path.exists(PROGRAM):
        raise CommandExecutionError(f"{PROGRAM} is missing: arm the guard again")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(GUARD_DIR, "last-revert.json"))  # only this run's record counts
    ran = _run(["systemd-cat", "--identifier=dsu-access-revert", PROGRAM, _snapshot_path()])
    record = _last_revert() or {}
    log = record.get("log") or [_out(ran)]
    if ran["retcode"] != 0 or record.get("result") != "reverted":
        raise CommandExecutionError("the revert failed: " + "; ".join(log))
    return {"reverted": True, "log": log}
