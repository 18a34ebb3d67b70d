"""One deploy per host at a time: a lock held on the host itself, by a process there that lives
as long as the deploy keeps it alive.

The lock is flock(2) on /run/dsu-deploy.lock, taken by a small Python program on the host (run
over the deploy's own SSH access, with sudo for a deploy user). It holds the lock while this
side sends it a heartbeat line every few seconds on the SSH session's stdin, and lets go at EOF
(the deploy released it) or when no heartbeat came for HEARTBEAT_TIMEOUT_S (the deploy was
killed, its machine or the network went away, or a firewall change dropped the session). So no
stale lock outlives its deploy by more than that, and /run is empty after a reboot anyway.
Two deploys from two operator machines meet there, not on either operator's disk; the holder
(run id, where from, since when, pid) is written beside it, so the second one says who.

A bootstrap moves the host to another user and port and closes the session the lock was taken
over: the same run then takes the lock again over the new access (take(..., takeover=True)),
which ends the earlier holder of the *same run id* and holds on.
"""

import base64
import json
import subprocess
import threading
import time
from dataclasses import dataclass, field

from dsu.targets import Target

LOCK = "/run/dsu-deploy.lock"
HOLDER = "/run/dsu-deploy.holder"
BUSY = 75
HEARTBEAT_S = 5.0
HEARTBEAT_TIMEOUT_S = 45.0
TAKE_TIMEOUT_S = 30.0


def _holder_program(lock: str, holder: str, busy: int, timeout: float) -> str:
    """The program on the host: argv run_id, who, takeover ("1"/"0")."""
    return f'''
import fcntl, json, os, select, signal, sys, time
run_id, who, takeover = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
fd = os.open({lock!r}, os.O_RDWR | os.O_CREAT, 0o600)
def held():
    try:
        with open({holder!r}) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {{}}
deadline = time.monotonic() + 15
while True:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        break
    except BlockingIOError:
        info = held()
        if not (takeover and info.get("run_id") == run_id) or time.monotonic() > deadline:
            print(json.dumps(info), file=sys.stderr, flush=True)
            sys.exit({busy})
        try:
            os.kill(int(info["pid"]), signal.SIGTERM)
        except (OSError, KeyError, ValueError):
            pass
        time.sleep(0.2)
with open({holder!r} + ".tmp", "w") as f:
    json.dump({{"run_id": run_id, "who": who, "pid": os.getpid(),
               "since": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}}, f)
os.replace({holder!r} + ".tmp", {holder!r})
print("locked", flush=True)
while select.select([sys.stdin], [], [], {timeout})[0] and sys.stdin.readline():
    pass
'''


def remote_command(run_id: str, who: str, takeover: bool, sudo: bool) -> str:
    """python3 on the host running the holder program. Program, run id and holder travel
    base32-encoded: nothing to escape through ssh and the remote shell, and python3 -c keeps the
    SSH session as the program's stdin."""
    program, run, holder = (base64.b32encode(text.encode()).decode() for text in
                            (_holder_program(LOCK, HOLDER, BUSY, HEARTBEAT_TIMEOUT_S), run_id, who))
    loader = ("import base64,sys;"
              "sys.argv[1:3]=[base64.b32decode(a).decode() for a in sys.argv[1:3]];"
              f"exec(base64.b32decode('{program}').decode())")
    return f"{'sudo -n ' if sudo else ''}python3 -c \"{loader}\" {run} {holder} {int(takeover)}"


class HostBusy(Exception):
    """Another deploy holds the host's lock."""


@dataclass
class HostLock:
    """A held lock; release() lets it go at once (else it goes HEARTBEAT_TIMEOUT_S after the
    heartbeat stops)."""

    process: subprocess.Popen[bytes]
    stop: threading.Event = field(default_factory=threading.Event)

    def beat(self) -> None:
        while not self.stop.wait(HEARTBEAT_S):
            try:
                self.process.stdin.write(b"\n")  # type: ignore[union-attr]
                self.process.stdin.flush()  # type: ignore[union-attr]
            except (OSError, ValueError):
                return

    def release(self) -> None:
        self.stop.set()
        if self.process.poll() is None:
            try:
                self.process.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                # The session is gone on the way (a firewall change): the host lets go on its
                # own when the heartbeat stops.
                self.process.kill()
                self.process.wait()


def _who(said: str) -> str:
    try:
        info = json.loads(said.strip().splitlines()[-1])
        return f"run {info['run_id']} by {info['who']}"
    except (ValueError, KeyError, IndexError, TypeError):
        return said.strip()[-300:] or "holder unknown"


def take(target: Target, run_id: str, who: str, takeover: bool = False,
         timeout: float = TAKE_TIMEOUT_S) -> HostLock:
    """Take *target*'s deploy lock as the roster reaches it (root, or the deploy user with sudo).
    Raises HostBusy naming the holder, RuntimeError when the host cannot be asked."""
    sudo = target.user != "root"
    argv = target.ssh_argv(remote_command(run_id, who, takeover, sudo))
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
    answer: list[bytes] = []
    reader = threading.Thread(target=lambda: answer.append(process.stdout.readline()),  # type: ignore[union-attr]
                              daemon=True)
    started = time.monotonic()
    reader.start()
    reader.join(timeout)
    if answer and answer[0].strip() == b"locked":
        held = HostLock(process)
        threading.Thread(target=held.beat, daemon=True).start()
        return held
    if process.poll() is None and time.monotonic() - started >= timeout:
        process.kill()
    process.wait()
    said = process.stderr.read().decode(errors="replace")  # type: ignore[union-attr]
    if process.returncode == BUSY:
        raise HostBusy(f"another deploy holds {target.name} ({LOCK} on the host): {_who(said)}")
    last = said.strip().splitlines()[-1] if said.strip() else f"exit status {process.returncode}"
    raise RuntimeError(f"could not take {target.name}'s deploy lock: {last}")
