"""The smoke checks of one host: what a deployed host must show from outside, each a verdict with
what was observed and what was expected (never a secret).

Three ssh sessions at once, each bounded: the check script as the roster user on the roster port
(its login is ``ssh_login``; it reports sudo, units, firewall and time sync in one round trip),
and two probes that must be refused (root on the roster port, and on port 22 when the roster port
is another). ``health`` reads this machine's health evidence.
"""

import json
import re
import shlex
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dsu.targets import Target

DEFAULT_UNITS = ("ssh.service", "chrony.service", "systemd-journald.service", "nftables.service")
UNIT_NAME = re.compile(r"^[A-Za-z0-9:_.\\@-]{1,255}$")
# The run id pattern of docs/schemas/health-check.v1.json: a plain directory name.
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
HEALTH_SCHEMA = "deploy-system-unified/health-check/v1"

CONNECT_TIMEOUT = 5  # s, ssh's TCP connect and banner
PROBE_TIMEOUT = 10  # s, a whole refusal probe
TIME_SYNC_WAIT = 20  # s, the script's wait for a clock that chrony only just began to steer
SESSION_TIMEOUT = 28  # s, the whole script session: a host's checks end within ~30 s, dead or not

# How a login attempt ended; the first four mean root cannot get in.
REFUSED = ("auth_refused", "tcp_refused", "closed", "no_answer")
_OUTCOMES = (
    ("Permission denied", "auth_refused"),
    ("Connection refused", "tcp_refused"),
    ("Connection closed", "closed"),
    ("Connection reset", "closed"),
    ("timed out", "no_answer"),
    ("No route to host", "no_answer"),
    ("Network is unreachable", "no_answer"),
    ("Host key verification failed", "host_key_unverified"),
    ("IDENTIFICATION HAS CHANGED", "host_key_unverified"),
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    observed: Any
    expected: Any
    message: str


@dataclass
class HostResult:
    host: str
    address: str
    user: str
    port: int
    started: datetime
    finished: datetime
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> list[str]:
        return [check.name for check in self.checks if not check.ok]


@dataclass(frozen=True)
class Session:
    """What one ssh command left: exit status (None: stopped at its time bound) and output."""

    returncode: int | None
    stdout: str
    stderr: str


def _ssh(argv: list[str], timeout: float, script: str = "") -> Session:
    try:
        proc = subprocess.run(argv, input=script, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        # run() killed ssh and collected what it had written.
        return Session(None, _text(exc.stdout), _text(exc.stderr))
    return Session(proc.returncode, proc.stdout, proc.stderr)


def _text(data: str | bytes | None) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else data or ""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def outcome(session: Session) -> str:
    """How a login attempt running ``true`` ended: accepted, one of REFUSED, host_key_unverified
    or error."""
    if session.returncode is None:
        return "no_answer"
    if session.returncode != 255:
        return "accepted"  # logged in; the command's own status does not matter
    for needle, kind in _OUTCOMES:
        if needle in session.stderr:
            return kind
    # At LogLevel=ERROR ssh says nothing when the server just hangs up (MaxStartups, a tcp
    # wrapper); any other message is an error we cannot read as a refusal.
    return "closed" if not session.stderr.strip() else "error"


def probe(target: Target, user: str, port: int) -> Session:
    return _ssh(target.ssh_argv("true", user=user, port=port, connect_timeout=CONNECT_TIMEOUT),
                PROBE_TIMEOUT)


# --- the check script -------------------------------------------------------------------------

BEGIN, END = "@@dsu-smoke:begin", "@@dsu-smoke:end"


def script(units: Sequence[str]) -> str:
    """The POSIX sh script the roster user runs: a marked section per check."""
    quoted = " ".join(shlex.quote(unit) for unit in units)
    return f"""\
echo {BEGIN}
if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi
echo @@sudo
out=$(sudo -n true 2>&1 </dev/null); echo "rc=$?"; printf '%s\\n' "$out"
echo @@units
for u in {quoted}; do
  s=$(systemctl is-active "$u" 2>/dev/null); printf '%s %s\\n' "$u" "${{s:-unknown}}"
done
echo @@firewall
if out=$($SUDO nft -j list ruleset 2>&1 </dev/null); then echo format=json
elif out=$($SUDO nft list ruleset 2>&1 </dev/null); then echo format=text
else echo format=error; fi
printf '%s\\n' "$out"
echo @@time
i=0
while :; do
  ntp=$(timedatectl show -p NTPSynchronized --value 2>/dev/null)
  tracking=$($SUDO chronyc -n tracking 2>&1 </dev/null)
  [ "$ntp" = yes ] && break
  if printf '%s\\n' "$tracking" | grep -q '^Leap status *: Normal' &&
     ! printf '%s\\n' "$tracking" | grep -q '^Reference ID *: 00000000'; then break; fi
  # Waiting helps only while a time daemon runs that may not have synchronised yet.
  [ "$i" -ge {TIME_SYNC_WAIT} ] && break
  systemctl is-active -q chrony.service systemd-timesyncd.service 2>/dev/null || break
  i=$((i + 1)); sleep 1
done
echo "waited=$i"; echo "ntp=$ntp"; printf '%s\\n' "$tracking"
echo {END}
"""


def sections(stdout: str) -> dict[str, list[str]]:
    """The script's output by section (``@@name`` lines open one); only what followed BEGIN."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    started = False
    for line in stdout.splitlines():
        if line == BEGIN:
            started = True
        elif not started:
            continue  # a login banner or motd
        elif line == END:
            found["end"] = []
            current = None
        elif line.startswith("@@") and re.fullmatch(r"@@[a-z_]+", line):
            current = found.setdefault(line[2:], [])
        elif current is not None:
            current.append(line)
    if started:
        found.setdefault("begin", [])
    return found


def _missing(name: str, session: Session, found: dict[str, list[str]], expected: Any) -> Check:
    if "begin" not in found:
        why = "no ssh login"
    elif session.returncode is None:
        why = "the session stopped at its time bound"
    else:
        why = f"the session ended (exit {session.returncode}) before it"
    return Check(name, False, None, expected, f"not checked: {why}")


def check_login(target: Target, session: Session, found: dict[str, list[str]]) -> Check:
    expected = f"{target.user}@{target.host} port {target.port} logs in (key, no password)"
    if "begin" in found:
        return Check("ssh_login", True, "logged in, ran the check script", expected,
                     f"{target.user} logs in on port {target.port}")
    # ssh's own failures exit 255; anything else is the remote shell's (e.g. a nologin shell).
    kind = outcome(session) if session.returncode in (None, 255) else "script_did_not_run"
    detail = _last_line(session.stderr) or kind
    return Check("ssh_login", False, kind, expected,
                 f"{target.user} cannot log in on port {target.port}: {detail}")


def check_root_refused(probes: dict[int, Session]) -> Check:
    observed = {f"root@{port}": outcome(session) for port, session in probes.items()}
    expected = dict.fromkeys(observed, "refused (connection or authentication refused, or no "
                                       "answer)")
    bad = [f"root@{port}: {outcome(session)}" + (f" ({_last_line(session.stderr)})"
                                                  if session.stderr.strip() else "")
           for port, session in probes.items() if outcome(session) not in REFUSED]
    message = "root is refused" if not bad else "root is not refused: " + ", ".join(bad)
    return Check("root_refused", not bad, observed, expected, message)


def _rc(lines: list[str]) -> tuple[int | None, list[str]]:
    if lines and lines[0].startswith("rc="):
        try:
            return int(lines[0][3:]), lines[1:]
        except ValueError:
            pass
    return None, lines


def check_sudo(session: Session, found: dict[str, list[str]]) -> Check:
    expected = "sudo -n true exits 0 (passwordless sudo)"
    if "sudo" not in found:
        return _missing("sudo", session, found, expected)
    rc, output = _rc(found["sudo"])
    if rc == 0:
        return Check("sudo", True, "exit 0", expected, "sudo works without a password")
    said = _last_line("\n".join(output))
    return Check("sudo", False, f"exit {rc}" + (f": {said}" if said else ""), expected,
                 f"sudo -n true failed: {said or f'exit {rc}'}")


def check_units(units: Sequence[str], session: Session, found: dict[str, list[str]]) -> Check:
    expected = dict.fromkeys(units, "active")
    if "units" not in found:
        return _missing("units", session, found, expected)
    observed = dict.fromkeys(units, "unknown")
    for line in found["units"]:
        unit, _, state = line.rpartition(" ")
        if unit in observed:
            observed[unit] = state.strip() or "unknown"
    down = [f"{unit} {state}" for unit, state in observed.items() if state != "active"]
    return Check("units", not down, observed, expected,
                 "all critical units active" if not down else "not active: " + ", ".join(down))


def check_firewall(port: int, session: Session, found: dict[str, list[str]]) -> Check:
    expected = f"input hook chains with policy drop, each accepting tcp dport {port}"
    if "firewall" not in found:
        return _missing("firewall", session, found, expected)
    lines = found["firewall"]
    form = lines[0].removeprefix("format=") if lines else "error"
    body = "\n".join(lines[1:])
    if form not in ("json", "text"):
        said = _last_line(body) or "no output"
        return Check("firewall", False, {"error": said}, expected,
                     f"the ruleset could not be read: {said}")
    try:
        chains = parse_ruleset_json(body) if form == "json" else parse_ruleset_text(body)
    except ValueError as exc:
        return Check("firewall", False, {"error": str(exc)[:200]}, expected,
                     f"the ruleset could not be parsed: {str(exc)[:200]}")
    return judge_firewall(chains, port, expected)


# --- the nftables ruleset, as chains: hook, policy, tcp ports accepted, chains jumped to -------


@dataclass
class Chain:
    hook: str | None = None
    policy: str | None = None
    accepts: list[tuple[int, int]] = field(default_factory=list)  # tcp dport ranges accepted
    jumps: list[str] = field(default_factory=list)


def _port_ranges(value: Any) -> list[tuple[int, int]]:
    """The ports a match's right side names: a number, a set, a range (JSON ruleset)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [(value, value)]
    if isinstance(value, list):
        return [r for item in value for r in _port_ranges(item)]
    if isinstance(value, dict) and "set" in value:
        return _port_ranges(value["set"])
    if isinstance(value, dict) and "range" in value:
        low, high = (value["range"] + [None, None])[:2]
        return [(low, high)] if isinstance(low, int) and isinstance(high, int) else []
    return []


def _dport_ranges(expr: Any) -> list[tuple[int, int]]:
    match = expr.get("match") if isinstance(expr, dict) else None
    if not isinstance(match, dict) or match.get("op") not in ("==", "in"):
        return []
    payload = match.get("left", {}).get("payload") if isinstance(match.get("left"), dict) else None
    if not isinstance(payload, dict) or payload.get("field") != "dport" \
            or payload.get("protocol") not in ("tcp", "th"):
        return []
    return _port_ranges(match.get("right"))


def parse_ruleset_json(text: str) -> dict[tuple[str, str, str], Chain]:
    """``nft -j list ruleset`` as chains keyed by (family, table, chain)."""
    document = json.loads(text)
    items = document.get("nftables") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise ValueError("no nftables list in the JSON ruleset")
    chains: dict[tuple[str, str, str], Chain] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("chain"), dict):
            c = item["chain"]
            chain = chains.setdefault((c.get("family"), c.get("table"), c.get("name")), Chain())
            chain.hook, chain.policy = c.get("hook"), c.get("policy")
        elif isinstance(item.get("rule"), dict):
            r = item["rule"]
            chain = chains.setdefault((r.get("family"), r.get("table"), r.get("chain")), Chain())
            exprs = [e for e in r.get("expr") or [] if isinstance(e, dict)]
            if any("accept" in e for e in exprs):
                chain.accepts += [p for e in exprs for p in _dport_ranges(e)]
            chain.jumps += [e[verb]["target"] for e in exprs for verb in ("jump", "goto")
                            if isinstance(e.get(verb), dict) and "target" in e[verb]]
    return chains


_SERVICES = {"ssh": 22}


def _text_ports(spec: str) -> list[tuple[int, int]]:
    ranges = []
    for item in spec.strip("{} ").split(","):
        low, _, high = item.strip().partition("-")
        low, high = _SERVICES.get(low, low), _SERVICES.get(high, high) if high else None
        if str(low).isdigit() and (high is None or str(high).isdigit()):
            ranges.append((int(low), int(high if high is not None else low)))
    return ranges


def parse_ruleset_text(text: str) -> dict[tuple[str, str, str], Chain]:
    """``nft list ruleset`` (the plain listing) as chains keyed by (family, table, chain)."""
    chains: dict[tuple[str, str, str], Chain] = {}
    table: tuple[str, str] | None = None
    blocks: list[Chain | None] = []  # open blocks inside a table: a chain, or a set, map, …
    for line in (raw.strip() for raw in text.splitlines()):
        chain = blocks[-1] if blocks else None
        if not blocks and (m := re.match(r"table (\S+) (\S+) \{$", line)):
            table = (m[1], m[2])
        elif table and (m := re.match(r"chain (\S+) \{$", line)):
            blocks.append(chains.setdefault((*table, m[1]), Chain()))
        elif line.endswith("{"):
            blocks.append(None)
        elif line == "}":
            if blocks:
                blocks.pop()
            else:
                table = None
        elif isinstance(chain, Chain):
            if m := re.search(r"\bhook (\w+)", line):
                chain.hook = m[1]
            if m := re.search(r"\bpolicy (\w+);", line):
                chain.policy = m[1]
            if re.search(r"\baccept$", line) and (m := re.search(r"\btcp dport (\{[^}]*\}|\S+)", line)):
                chain.accepts += _text_ports(m[1])
            if m := re.search(r"\b(?:jump|goto) (\S+)", line):
                chain.jumps.append(m[1])
    if not chains and text.strip():
        raise ValueError("no chain found in the ruleset listing")
    return chains


def _accepts(chains: dict[tuple[str, str, str], Chain], key: tuple[str, str, str], port: int,
             seen: set[tuple[str, str, str]]) -> bool:
    """Whether the chain, or a chain it jumps to, accepts tcp *port* (conditions aside)."""
    chain = chains.get(key)
    if chain is None or key in seen:
        return False
    seen.add(key)
    return any(low <= port <= high for low, high in chain.accepts) or \
        any(_accepts(chains, (key[0], key[1], name), port, seen) for name in chain.jumps)


def judge_firewall(chains: dict[tuple[str, str, str], Chain], port: int, expected: str) -> Check:
    inputs = [{"chain": " ".join(map(str, key)), "policy": chain.policy,
               "accepts_port": _accepts(chains, key, port, set())}
              for key, chain in sorted(chains.items(), key=lambda kv: tuple(map(str, kv[0])))
              if chain.hook == "input"]
    observed = {"input_chains": inputs}
    # A packet passes the input hook only if every base chain there lets it through.
    dropping = [c["chain"] for c in inputs if c["policy"] == "drop" and not c["accepts_port"]]
    if not inputs:
        why = "no input hook chain (no firewall)"
    elif not any(c["policy"] == "drop" for c in inputs):
        why = "no input hook chain has policy drop"
    elif dropping:
        why = f"tcp {port} is not accepted by {', '.join(dropping)} (policy drop)"
    else:
        return Check("firewall", True, observed, expected,
                     f"input policy drop, tcp {port} accepted")
    return Check("firewall", False, observed, expected, why)


# --- time -------------------------------------------------------------------------------------


def _tracking(lines: list[str]) -> dict[str, str]:
    fields = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def check_time(session: Session, found: dict[str, list[str]]) -> Check:
    expected = "timedatectl NTPSynchronized=yes, or chrony's leap status Normal with a reference"
    if "time" not in found:
        return _missing("time_sync", session, found, expected)
    lines = found["time"]
    values = dict(line.split("=", 1) for line in lines[:2] if "=" in line)
    tracking = _tracking(lines[2:])
    reference = tracking.get("Reference ID", "").split(" ", 1)[0]
    chrony_synced = tracking.get("Leap status") == "Normal" and reference not in ("", "00000000")
    observed = {"ntp_synchronized": values.get("ntp", ""),
                "chrony_leap_status": tracking.get("Leap status"),
                "chrony_reference": tracking.get("Reference ID"),
                "waited_s": int(values["waited"]) if values.get("waited", "").isdigit() else None}
    if observed["chrony_leap_status"] is None:
        observed["chrony_error"] = _last_line("\n".join(lines[2:]))[:200] or None
    ok = values.get("ntp") == "yes" or chrony_synced
    via = "timedatectl" if values.get("ntp") == "yes" else "chrony"
    message = f"clock synchronised ({via})" if ok else \
        f"clock not synchronised after {observed['waited_s']} s"
    return Check("time_sync", ok, observed, expected, message)


# --- health evidence on this machine ----------------------------------------------------------


def _summary(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) and document.get("schema") == HEALTH_SCHEMA \
        else None


def _finished(summary: dict[str, Any]) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(summary.get("finished")))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def latest_health(base: Path, host: str, run_id: str | None) -> dict[str, Any] | None:
    """The health summary of *host* in run *run_id*, or the newest one under *base*."""
    if run_id is not None:
        return _summary(base / run_id / f"{host}.json")
    found = [s for s in map(_summary, base.glob(f"*/{host}.json")) if s and _finished(s)]
    return max(found, key=lambda s: _finished(s) or datetime.min.replace(tzinfo=UTC), default=None)


def check_health(host: str, base: Path, run_id: str | None, now: datetime) -> Check:
    expected = "the latest health summary of this host has overall_ok true"
    summary = latest_health(base, host, run_id)
    if summary is None:
        where = f"run {run_id}" if run_id else str(base)
        return Check("health", False, None, expected, f"no health summary for {host} in {where}")
    finished = _finished(summary)
    age = round((now - finished).total_seconds()) if finished else None
    observed = {"run_id": summary.get("run_id"), "overall_status": summary.get("overall_status"),
                "overall_ok": summary.get("overall_ok"),
                "mandatory_failures": summary.get("mandatory_failures", []),
                "finished": summary.get("finished"), "age_s": age}
    ok = summary.get("overall_ok") is True
    said = f"health run {summary.get('run_id')} ({_age(age)} old): {summary.get('overall_status')}"
    if not ok:
        said += "; mandatory failures: " + ", ".join(map(str, observed["mandatory_failures"]))
    return Check("health", ok, observed, expected, said)


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "unknown age"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(seconds) >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


# --- one host ---------------------------------------------------------------------------------


def check_host(target: Target, units: Sequence[str], health_base: Path,
               health_run: str | None) -> HostResult:
    """Every smoke check of *target*, within ~30 s whatever state the host is in."""
    started = datetime.now(UTC)
    argv = target.ssh_argv("sh", "-s", connect_timeout=CONNECT_TIMEOUT)
    ports = [target.port] + ([22] if target.port != 22 else [])
    with ThreadPoolExecutor(1 + len(ports)) as pool:
        running = pool.submit(_ssh, argv, SESSION_TIMEOUT, script(units))
        probing = {port: pool.submit(probe, target, "root", port) for port in ports}
        session = running.result()
        probes = {port: future.result() for port, future in probing.items()}
    found = sections(session.stdout)
    checks = [
        check_login(target, session, found),
        check_root_refused(probes),
        check_sudo(session, found),
        check_units(units, session, found),
        check_firewall(target.port, session, found),
        check_health(target.name, health_base, health_run, datetime.now(UTC)),
        check_time(session, found),
    ]
    return HostResult(target.name, target.host, target.user, target.port, started,
                      datetime.now(UTC), checks)
