"""Before a state run: is an earlier run still going on the host? (see the comment below)"""

import base64
import inspect
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dsu.errors import DsuError
from dsu.saltssh import salt_ssh

# When the operator's side of a run dies (a dropped session, salt-ssh killed), the host's side
# goes on: salt-ssh starts salt-call over ssh without a terminal, so nothing hangs it up, and
# Salt runs apt in a systemd scope of its own. It finishes unattended and its answer is lost.
# Killing it with the session instead would be worse: a dpkg killed mid-transaction is exactly
# what leaves a host "interrupted" (core.repositories repairs that). So a new run looks first and
# waits for the earlier one, saying so.

# dpkg's locks: every front end (apt, unattended-upgrades) holds lock-frontend for its whole
# transaction, dpkg itself holds lock.
DPKG_LOCKS = ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock")
# How long a run waits for an earlier one on the same host, and how often it looks again. A
# highstate on a fresh host takes a few minutes; twenty covers a slow host with a big upgrade.
EARLIER_RUN_WAIT_S = 1200.0
EARLIER_RUN_POLL_S = 5.0
# One look at the hosts is an ssh round trip; more than this means the host is in trouble, and
# the state run will meet (and report) that trouble itself.
EARLIER_RUN_PROBE_TIMEOUT_S = 60.0


def running_here(locks: tuple[str, ...]) -> list[dict[str, object]]:
    """What a state run starting on this machine now would run into: Salt state runs still going
    (a salt-call whose function is state.*; salt-ssh's half on the host runs state.pkg, a person's
    salt-call state.apply counts as well) and, outside those, whoever holds one of dpkg's *locks*
    (apt, unattended-upgrades, dpkg). One {"pid", "started" (epoch s), "command", "holds" (the
    lock; "" for a state run)} each.

    Runs on the host: earlier_runs() ships this function's source to python3 there, so it needs
    nothing but the standard library, imported here."""
    import fcntl
    import os
    import re
    import struct

    with open("/proc/stat") as handle:
        boot = next(int(line.split()[1]) for line in handle if line.startswith("btime "))
    ticks = os.sysconf("SC_CLK_TCK")

    def stat(pid: int) -> tuple[int, float]:
        """(parent pid, start time); the command name before ")" may hold spaces and parens."""
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return int(fields[1]), boot + int(fields[19]) / ticks

    def below(pid: int, parents: set[object]) -> bool:
        """Whether *pid* is one of *parents* or a descendant (apt under its salt-call)."""
        for _ in range(64):  # hops; bounded in case the tree changes while we climb it
            if pid in parents:
                return True
            if pid <= 1:
                return False
            pid = stat(pid)[0]
        return False

    def holder(path: str) -> int:
        """The pid holding *path*'s fcntl write lock (as dpkg and apt take it), 0 for none.
        F_GETLK asks without taking the lock, so looking never stands in apt's way."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return 0
        try:
            query = struct.pack("hhlli", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
            kind, _, _, _, pid = struct.unpack("hhlli", fcntl.fcntl(fd, fcntl.F_GETLK, query))
        finally:
            os.close(fd)
        return 0 if kind == fcntl.F_UNLCK else pid

    found: list[dict[str, object]] = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                argv = handle.read().decode(errors="replace").split("\0")
            calls = [i for i, arg in enumerate(argv) if os.path.basename(arg) == "salt-call"]
            function = next((arg for arg in argv[calls[0]:] if re.fullmatch(r"state\.\w+", arg)),
                            "") if calls else ""
            if function:
                found.append({"pid": int(name), "started": stat(int(name))[1],
                              "command": f"salt-call {function}", "holds": ""})
        except OSError:
            continue  # it ended while we looked
    for path in locks:
        try:
            pid = holder(path)
            if pid and not below(pid, {entry["pid"] for entry in found}):
                with open(f"/proc/{pid}/comm") as handle:
                    found.append({"pid": pid, "started": stat(pid)[1],
                                  "command": handle.read().strip(), "holds": path})
        except OSError:
            continue
    return found


@dataclass
class EarlierRun:
    """Something still going on a host that a new state run would collide with."""

    pid: int
    started: datetime
    command: str
    holds: str = ""  # the dpkg lock it holds; "" for a Salt state run

    def line(self) -> str:
        when = f"started {self.started:%Y-%m-%d %H:%M:%S} UTC"
        if self.holds:
            return f"{self.command} (pid {self.pid}, {when}) holds {self.holds}"
        return f"an earlier run (pid {self.pid}, {when}) is still going"


def earlier_runs(targets: list[str], *, roster: Path,
                 config_dir: Path | None = None) -> dict[str, list[EarlierRun]]:
    """running_here() on every target in one salt-ssh --raw run: plain ssh, no thin and no
    salt-call, so looking is quick and is not a state run itself. Hosts with nothing going are
    left out, and so is a host that cannot be asked: the state run will meet that trouble and
    report it."""
    script = (f"{inspect.getsource(running_here)}\nimport json\n"
              f"print(json.dumps(running_here({DPKG_LOCKS!r})))\n")
    # Through salt-ssh's escaping, ssh and the remote shell in one word: base32 has no quotes,
    # spaces or slashes (salt-ssh splits its ssh command line at "/bin/sh").
    command = f"echo {base64.b32encode(script.encode()).decode()} | base32 -d | python3"
    try:
        # salt-ssh takes options after the target too: --raw travels in the function's place.
        run = salt_ssh(targets, "--raw", command, roster=roster, config_dir=config_dir,
                       timeout=EARLIER_RUN_PROBE_TIMEOUT_S)
    except (subprocess.TimeoutExpired, DsuError):
        return {}
    found = {}
    for host in targets:
        answer = run.returns.get(host)
        try:
            entries = json.loads(answer["stdout"]) if answer["retcode"] == 0 else []
            runs = [EarlierRun(int(e["pid"]), datetime.fromtimestamp(float(e["started"]), UTC),
                               str(e["command"]), str(e["holds"])) for e in entries]
        except (TypeError, KeyError, ValueError):
            continue  # no answer, or not the probe's: see above
        if runs:
            found[host] = runs
    return found


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def wait_for_earlier_runs(targets: list[str], *, roster: Path, config_dir: Path | None = None,
                          wait_s: float = EARLIER_RUN_WAIT_S,
                          poll_s: float = EARLIER_RUN_POLL_S) -> dict[str, str]:
    """Wait until no target has an earlier run going (earlier_runs), at most *wait_s*, saying on
    stderr what each host waits for and when it is over. Returns {host: reason} for the hosts
    still busy at the deadline: a second run there would fight the first over dpkg's lock and the
    same files, so it is not started."""
    started = time.monotonic()
    told: set[tuple[str, int]] = set()
    pending = list(targets)
    while pending:
        busy = earlier_runs(pending, roster=roster, config_dir=config_dir)
        waited = time.monotonic() - started
        for host in pending:
            if host not in busy and any(seen == host for seen, _ in told):
                _say(f"host {host}: the earlier run is over after {waited:.0f}s of waiting; "
                     "starting")
        for host, runs in busy.items():
            for run in runs:
                if (host, run.pid) not in told:
                    told.add((host, run.pid))
                    _say(f"host {host}: {run.line()}; waiting")
        if busy and waited >= wait_s:
            return {host: f"not started: {'; '.join(run.line() for run in runs)} after "
                          f"{wait_s:.0f}s of waiting" for host, runs in busy.items()}
        pending = list(busy)
        if pending:
            time.sleep(poll_s)
    return {}
