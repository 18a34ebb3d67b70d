"""First contact, lockout-safe: from root on port 22 (as a new VPS is delivered) to the deploy
user with sudo on its own port, root login and port 22 closed (``dsu bootstrap``, and the first
phase of ``dsu deploy`` for a roster entry that declares first contact; dsu/targets.py).

Every step that changes how the host is reached is guarded by a dead-man timer on the host
(salt/security/bootstrap, _modules/access_guard.py): armed before the change, it restores SSH and
the firewall as they were unless this side proves, from outside, that the new way in works.

1. open   as root on 22: the deploy user with the operator's key and sudo; sshd on 22 *and*
          the new port, both open in the firewall (sshd's configuration checked before reload)
2. proof  from here: the deploy user logs in on the new port and ``sudo -n true`` works
3. close  as the deploy user on the new port (sudo): port 22 and root login removed, guarded again
4. proof  again, and root and port 22 refused; then the guard is disarmed
5. the roster entry becomes user/port/sudo; known_hosts gets ``[host]:port`` (the same host key)

A failed proof while the host still answers the old way reverts at once; otherwise the timer
does, within ``guard_s``. A host already bootstrapped is checked with the close phase's states
and must need no change.
"""

import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dsu import targets as roster_io
from dsu.deploy.rootpassword import RootPassword, install_key_with_password
from dsu.errors import DsuError
from dsu.progress import Progress
from dsu.runs import StateSummary, apply_states
from dsu.saltssh import salt_ssh
from dsu.targets import Access, Target

GUARD_S = 300
PROOF_TIMEOUT_S = 15
REFUSED_WAIT_S = 4
SLS = "security.bootstrap"
PARTS = "security.access,security.firewall,security.ssh"


@dataclass
class Outcome:
    """What a bootstrap did to one host."""

    ok: bool
    steps: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""
    access: Access | None = None
    changed: int = 0

    def step(self, name: str, ok: bool, started: float, **detail: Any) -> bool:
        self.steps.append({"step": name, "ok": ok,
                           "duration_s": round(time.monotonic() - started, 2), **detail})
        return ok


def public_key(target: Target) -> str:
    """The operator's public key: the roster's private key's .pub, or derived from it."""
    if not target.priv:
        raise DsuError(f"roster entry {target.name} names no private key (priv)",
                       "set priv: the key the deploy user will accept")
    pub = Path(f"{target.priv}.pub")
    if pub.exists():
        return pub.read_text().strip()
    made = subprocess.run(["ssh-keygen", "-y", "-f", target.priv], capture_output=True, text=True,
                          check=False)
    if made.returncode:
        raise DsuError(f"cannot read the public half of {target.priv}: {made.stderr.strip()}")
    return made.stdout.strip()


def _pillar(access: Access, key: str, ports: list[int], root_login: str | None,
            guard_s: int) -> str:
    return "pillar=" + json.dumps({"security": {
        "access": {"user": access.user, "authorized_keys": [key]},
        "ssh": {"ports": ports, "permit_root_login": root_login},
        "bootstrap": {"guard_seconds": guard_s}}})


def _entry_roster(target: Target, directory: Path, access: Access | None) -> Path:
    """A one-entry roster reaching *target* as given, or as *access* with sudo."""
    entry = dict(target.entry)
    entry.pop(roster_io.BOOTSTRAP_KEY, None)
    if access:
        entry.update({"user": access.user, "port": access.port, "sudo": True})
    path = directory / ("roster-" + (f"{access.user}-{access.port}" if access else "first"))
    path.write_text(yaml.safe_dump({target.name: entry}))
    return path


def _apply(target: Target, roster: Path, config_dir: Path | None, *args: str) -> StateSummary:
    # --wipe: the state bundle left on the host holds the compiled pillar.
    return apply_states([target.name], *args, roster=roster, config_dir=config_dir,
                        wipe=True).summaries[target.name]


def _ssh_ok(target: Target, *command: str, user: str, port: int,
            connect_timeout: int = PROOF_TIMEOUT_S) -> tuple[bool, str]:
    try:
        run = subprocess.run(target.ssh_argv(*command, user=user, port=port,
                                             connect_timeout=connect_timeout),
                             capture_output=True, text=True, timeout=connect_timeout + 10,
                             check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False, "no answer"
    return run.returncode == 0, (run.stderr.strip().splitlines() or [""])[-1]


def prove(target: Target, access: Access) -> tuple[bool, str]:
    """From this side: the deploy user logs in on the new port and sudo works without a
    password."""
    ok, said = _ssh_ok(target, "sudo", "-n", "true", user=access.user, port=access.port)
    return ok, "" if ok else f"{access.user}@{target.host}:{access.port} sudo -n true failed: " \
                             f"{said or 'no message'}"


def refused(target: Target, user: str, port: int) -> bool:
    """*user* cannot log in on *port*: refused, or dropped by the firewall (a short wait: the
    proof that the host answers was made just before)."""
    return not _ssh_ok(target, "true", user=user, port=port, connect_timeout=REFUSED_WAIT_S)[0]


def _guard(target: Target, roster: Path, config_dir: Path | None, function: str) -> bool:
    run = salt_ssh([target.name], f"access_guard.{function}", roster=roster, timeout=120,
                   config_dir=config_dir, wipe=True)
    return run.returncode == 0 and isinstance(run.returns.get(target.name), dict)


def _change(outcome: Outcome, step: str, target: Target, roster: Path, config_dir: Path | None,
            started: float, pillar: str) -> bool:
    """One guarded step (open or close) of security.bootstrap; a failed one is reverted at once
    (the host still answers the way *roster* reaches it)."""
    summary = _apply(target, roster, config_dir, SLS, pillar)
    outcome.changed += summary.changed
    if outcome.step(step, summary.success, started, changed=summary.changed,
                    reason=_failed(summary)):
        return True
    undone = "reverted" if _guard(target, roster, config_dir, "revert") else \
        "the guard on the host reverts it"
    outcome.reason = f"the {step} step failed ({undone}): {_failed(summary)}"
    return False


def _failed(summary: StateSummary) -> str:
    return "; ".join([*summary.errors[:2], *(f"{p.id}: {p.comment}" for p in
                                            summary.failed_states[:3])])[:1000]


def first_reach(target: Target, password: Callable[[], RootPassword | None] | None) -> None:
    """Root on the roster's port answers with the operator's key; with root's password given or
    asked, the key is put in place first (the password goes to sshpass through a pipe)."""
    ok, said = _ssh_ok(target, "true", user=target.user, port=target.port)
    if ok:
        return
    if "Host key verification failed" in said:
        raise DsuError(f"{target.name}: the host key of {target.host}:{target.port} is not known "
                       f"({target.known_hosts() or '~/.ssh/known_hosts'})",
                       "compare `ssh-keyscan -p PORT HOST | ssh-keygen -lf -` with the "
                       "fingerprint the provider shows, then add that line to the known_hosts")
    if "Permission denied" not in said:
        raise DsuError(f"{target.name}: {target.user}@{target.host}:{target.port} does not "
                       f"answer: {said or 'no message'}")
    given = password() if password else None
    if given is None:
        raise DsuError(f"{target.name}: {target.user} does not accept the operator's key",
                       "give root's password (--ask-root-password, or --root-password-file)")
    install_key_with_password(target, public_key(target), given)
    ok, said = _ssh_ok(target, "true", user=target.user, port=target.port)
    if not ok:
        raise DsuError(f"{target.name}: the key was installed with root's password but does not "
                       f"log in: {said}")


def _verify(target: Target, roster_path: Path, config_dir: Path | None, outcome: Outcome,
            progress: Progress) -> Outcome:
    """A host the roster already reaches as its deploy user: the close phase's states must need
    no change."""
    access = Access(target.user, target.port)
    started = time.monotonic()
    progress.step(f"already bootstrapped ({access.user}@{target.host}:{access.port}); "
                  "checking its access states", target.name)
    summary = _apply(target, roster_path, config_dir, PARTS, _pillar(access, public_key(target),
                                                         [access.port], "no", 0))
    outcome.changed = summary.changed
    outcome.access = access
    outcome.ok = outcome.step("verify", summary.success, started, changed=summary.changed,
                              reason=_failed(summary))
    if not summary.success:
        outcome.reason = f"access states failed: {_failed(summary)}"
    return outcome


def bootstrap(target: Target, roster_path: Path, *,
              password: Callable[[], RootPassword | None] | None = None,
              guard_s: int = GUARD_S, progress: Progress | None = None,
              config_dir: Path | None = None) -> Outcome:
    progress = progress or Progress()
    outcome = Outcome(ok=False)
    with tempfile.TemporaryDirectory(prefix="dsu-bootstrap-") as tmp:
        work = Path(tmp)
        if target.bootstrap is None:
            return _verify(target, roster_path, config_dir, outcome, progress)
        access = target.bootstrap
        key = public_key(target)
        known = target.known_hosts() or Path.home() / ".ssh" / "known_hosts"

        started = time.monotonic()
        progress.step(f"first contact as {target.user}@{target.host}:{target.port}", target.name)
        first_reach(target, password)  # again: a no-op when the lock's first contact did it
        first = _entry_roster(target, work, None)
        moved = _entry_roster(target, work, access)

        progress.step(f"open: {access.user} with sudo, sshd on {target.port} and {access.port}, "
                      f"firewall; guard {guard_s}s", target.name)
        if not _change(outcome, "open", target, first, config_dir, started,
                       _pillar(access, key, [target.port, access.port], None, guard_s)):
            return outcome

        started = time.monotonic()
        roster_io.add_known_port(known, target.host, access.port)
        ok, said = prove(target, access)
        if not outcome.step("proof", ok, started, reason=said):
            reverted = _guard(target, first, config_dir, "revert")
            outcome.reason = (f"proof failed: {said}; " + (
                "SSH and firewall reverted" if reverted else
                f"the guard on the host reverts SSH and the firewall within {guard_s}s"))
            return outcome

        started = time.monotonic()
        progress.step(f"close: port {target.port} and root login removed; guard {guard_s}s",
                      target.name)
        if not _change(outcome, "close", target, moved, config_dir, started,
                       _pillar(access, key, [access.port], "no", guard_s)):
            return outcome

        started = time.monotonic()
        ok, said = prove(target, access)
        root_refused = refused(target, "root", access.port)
        old_closed = refused(target, target.user, target.port)
        proved = ok and root_refused and old_closed
        if not outcome.step("final proof", proved, started, deploy_user=ok,
                            root_refused=root_refused, old_port_refused=old_closed):
            reverted = ok and _guard(target, moved, config_dir, "revert")
            outcome.reason = ("final proof failed: " + (said or "root or the old port still "
                                                        "answers") + "; " + (
                "reverted to both ports" if reverted else
                f"the guard on the host reverts within {guard_s}s"))
            return outcome
        if not _guard(target, moved, config_dir, "disarm"):
            outcome.reason = (f"the guard could not be disarmed: it reverts to both ports within "
                              f"{guard_s}s; run dsu bootstrap again")
            return outcome
        roster_io.bootstrapped(roster_path, target.name, access)
        outcome.access = access
        outcome.ok = True
        progress.step(f"bootstrapped: {access.user}@{target.host}:{access.port} with sudo; root "
                      f"and port {target.port} refused", target.name)
        return outcome
