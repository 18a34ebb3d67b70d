"""
Post-deploy health checks: systemd units, container runtimes, disk and inode usage, network
endpoints (TCP, HTTP(S), TLS expiry) and time synchronisation.

Configured from pillar ``health_check:`` merged over :data:`DEFAULTS`. Every check yields one
result record (``name``, ``kind``, ``mandatory``, ``status`` pass/warn/fail/skip, ``observed``,
``expected``, ``message``, ``duration_ms``); ``health.check`` runs them all concurrently and
returns a ``health-check/v1`` summary (docs/schemas/health-check.v1.json; the format's facts
live in ``_utils/health_report.py``). Nothing here changes the host.

Something that is not installed is a ``fail`` when the check is mandatory and a ``skip`` when it
is optional. An entry without ``mandatory`` is mandatory: what is worth declaring is assumed to
be something the deploy depends on. A check that raises becomes a ``fail`` naming the error.
No check can stall the run: each probe has its own timeout, and whatever has not answered by
the deadline is reported as a failure while its thread is abandoned.

.. code-block:: yaml

    health_check:
      fail_on_mandatory: true
      timeout_s: 5
      units:
        caddy.service: {mandatory: true}
        smartd.service: {enabled: false}
      disks:
        /: {warn: 80, critical: 90, mandatory: true}
      endpoints:
        app: {url: 'https://127.0.0.1:8443/health', status: [200], body_match: 'ok',
              verify_tls: false, cert_warn_days: 21, cert_critical_days: 7}
        db: {tcp: '10.0.0.5:5432', mandatory: false}
"""

import contextvars
import copy
import datetime
import fnmatch
import http.client
import json
import os
import re
import shutil
import ssl
import threading
import time
import urllib.parse

import salt.utils.dictupdate
from salt.exceptions import CommandExecutionError

__virtualname__ = "health"

# What the system we replace accepted from a local caddy: any answer that proves it is serving.
ANY_ANSWER = [200, 301, 302, 307, 308, 401, 403, 404]

DEFAULTS = {
    "fail_on_mandatory": True,
    "timeout_s": 5,
    "units": {
        # The Debian podman package runs its API socket-activated: the socket is what is "up".
        "podman.socket": {"mandatory": True},
        "caddy.service": {"mandatory": True},
        "prometheus-node-exporter.service": {"mandatory": False},
        "smartd.service": {"mandatory": False},
    },
    "failed_units": {"enabled": False, "mandatory": False, "ignore": []},
    "runtimes": {
        "podman": {"enabled": True, "mandatory": True, "containers": {}},
        "docker": {"enabled": False, "mandatory": False, "containers": {}},
    },
    "disks": {
        "/": {"warn": 80, "critical": 90, "mandatory": True},
        "/srv": {"warn": 85, "critical": 95, "mandatory": False},
    },
    "endpoints": {
        "caddy-local": {"url": "http://127.0.0.1/", "status": ANY_ANSWER, "mandatory": True},
        "node-exporter": {"url": "http://127.0.0.1:9100/metrics", "status": [200],
                          "mandatory": False},
    },
    "time": {"enabled": True, "mandatory": False},
}

# With use_defaults: false, only what the pillar declares is checked.
BARE = {"fail_on_mandatory": True, "timeout_s": 5, "units": {}, "runtimes": {}, "disks": {},
        "endpoints": {}, "failed_units": {"enabled": False}, "time": {"enabled": False}}

STATUSES = ("pass", "warn", "fail", "skip")
# Extra time after the longest probe timeout before unanswered probes are reported failed.
DEADLINE_GRACE_S = 1.0


def __virtual__():
    if __grains__.get("kernel") != "Linux":
        return (False, "health: only Linux hosts are supported")
    return __virtualname__


# --- configuration -----------------------------------------------------------------------------


def _profile_layers(deploy):
    """The checks every profile has, then those of the host's profile (pillar deploy:profile),
    from pillar deploy:health_checks (pillar/deploy/health.yaml)."""
    by_profile = deploy.get("health_checks") or {}
    if not isinstance(by_profile, dict):
        raise CommandExecutionError("pillar deploy:health_checks must be a mapping of profile to "
                                    "health checks")
    return [by_profile.get("all") or {}, by_profile.get(deploy.get("profile")) or {}]


def config(overrides=None, profile=False):
    """
    Return the effective health configuration: :data:`DEFAULTS`, then with *profile* the checks
    of the host's deployment profile (pillar ``deploy:health_checks``: ``all`` and the one of
    ``deploy:profile``, from pillar/deploy/health.yaml), then pillar ``health_check``, then
    *overrides* (a dict), each merged recursively over the previous. The last layer that sets
    ``use_defaults`` decides whether the defaults are the start (false: start from nothing).

    CLI Example:

    .. code-block:: bash

        salt '*' health.config
        salt '*' health.config profile=True
    """
    layers = [__pillar__.get("health_check") or {}, overrides or {}]
    if profile:
        layers[:0] = _profile_layers(__pillar__.get("deploy") or {})
    for layer in layers:
        if not isinstance(layer, dict):
            raise CommandExecutionError(f"health_check configuration must be a mapping, not {layer!r}")
    # The last layer that says decides: a pillar may turn the defaults back on under a profile
    # that turned them off.
    said = [layer["use_defaults"] for layer in layers if "use_defaults" in layer]
    use_defaults = bool(said[-1]) if said else True
    merged = copy.deepcopy(DEFAULTS if use_defaults else BARE)
    for layer in layers:
        merged = salt.utils.dictupdate.merge(merged, copy.deepcopy(layer), strategy="recurse")
    return merged


def _enabled(spec):
    return spec is not None and spec is not False and (spec or {}).get("enabled", True)


def _result(name, kind, mandatory, status, observed=None, expected=None, message=""):
    return {"name": name, "kind": kind, "mandatory": bool(mandatory), "status": status,
            "observed": observed, "expected": expected, "message": message, "duration_ms": 0.0}


def _absent(name, kind, mandatory, what):
    """A thing the check needs is not on the host: failure if mandatory, otherwise a skip."""
    return _result(name, kind, mandatory, "fail" if mandatory else "skip", None, None,
                   f"{what} is not installed" + ("" if mandatory else " (optional: skipped)"))


def _disabled(name, kind, mandatory):
    return _result(name, kind, mandatory, "skip", message="disabled in pillar health_check")


# --- systemd units -----------------------------------------------------------------------------


def _systemctl_show(units):
    """Properties of *units* from one ``systemctl show`` call ({unit: {property: value}}).

    One process for every unit: service.show costs two systemctl calls per unit, which adds up
    to most of a 100-check run."""
    props = "Id,LoadState,ActiveState,SubState,Result"
    ret = __salt__["cmd.run_all"](["systemctl", "show", f"--property={props}", "--", *units],
                                  python_shell=False, ignore_retcode=True)
    if ret["retcode"] != 0 and not ret["stdout"]:
        raise CommandExecutionError(f"systemctl show failed: {ret['stderr']}")
    shown = {}
    for unit, block in zip(units, ret["stdout"].split("\n\n"), strict=False):
        shown[unit] = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
    return shown


def _unit_result(unit, spec, props):
    name, mandatory = f"unit:{unit}", spec.get("mandatory", True)
    want = spec.get("active_state", "active")
    want_sub = spec.get("sub_state")
    expected = {"active_state": want, **({"sub_state": want_sub} if want_sub else {})}
    if props.get("LoadState") == "not-found":
        return _absent(name, "unit", mandatory, f"unit {unit}")
    observed = {"load_state": props.get("LoadState"), "active_state": props.get("ActiveState"),
                "sub_state": props.get("SubState")}
    good = observed["active_state"] == want and (not want_sub or observed["sub_state"] == want_sub)
    message = (f"{unit} is {observed['active_state']} ({observed['sub_state']})"
               + ("" if good else f", expected {want}" + (f" ({want_sub})" if want_sub else "")))
    return _result(name, "unit", mandatory, "pass" if good else "fail", observed, expected, message)


def units(units=None):
    """
    Check systemd units' active and sub state. *units* maps unit names to
    ``{mandatory, active_state (default active), sub_state (optional), enabled}``; without it
    the configured ``health_check:units`` are checked. Returns a list of check results.

    CLI Example:

    .. code-block:: bash

        salt '*' health.units
        salt '*' health.units '{"ssh.service": {"mandatory": true}}'
    """
    specs = config()["units"] if units is None else units
    wanted = {u: s or {} for u, s in specs.items() if _enabled(s)}
    results = [_disabled(f"unit:{u}", "unit", (s or {}).get("mandatory", True))
               for u, s in specs.items() if not _enabled(s)]
    if not wanted:
        return results
    try:
        shown = _systemctl_show(list(wanted))
    except CommandExecutionError as exc:
        # No systemd to ask (another init, a chroot): each unit gets that answer, none passes.
        return results + [_result(f"unit:{u}", "unit", s.get("mandatory", True),
                                  "fail" if s.get("mandatory", True) else "skip",
                                  message=f"cannot query systemd: {exc}") for u, s in wanted.items()]
    return results + [_unit_result(u, s, shown.get(u, {})) for u, s in wanted.items()]


def failed_units(mandatory=False, ignore=None):
    """
    Check that no systemd unit is in the failed state; *ignore* is a list of glob patterns of
    units to leave out.

    CLI Example:

    .. code-block:: bash

        salt '*' health.failed_units
        salt '*' health.failed_units ignore='["*.scope"]'
    """
    ret = __salt__["cmd.run_all"](
        ["systemctl", "list-units", "--state=failed", "--plain", "--no-legend", "--no-pager"],
        python_shell=False, ignore_retcode=True)
    if ret["retcode"] != 0:
        raise CommandExecutionError(f"systemctl list-units failed: {ret['stderr']}")
    failed = [line.split()[0] for line in ret["stdout"].splitlines() if line.strip()]
    failed = [u for u in failed if not any(fnmatch.fnmatch(u, pat) for pat in ignore or [])]
    message = "no failed units" if not failed else f"failed units: {', '.join(failed)}"
    return _result("failed_units:all", "failed_units", mandatory, "fail" if failed else "pass",
                   failed, [], message)


# --- container runtimes ------------------------------------------------------------------------


def _runtime_cli(runtime, args, timeout):
    ret = __salt__["cmd.run_all"]([runtime, *args], python_shell=False, ignore_retcode=True,
                                  timeout=timeout, output_loglevel="quiet")
    return ret["retcode"], ret["stdout"], ret["stderr"]


def _container_result(runtime, container, spec, inspected):
    name = f"container:{runtime}/{container}"
    mandatory = spec.get("mandatory", True)
    expected = {"running": True, "health": "healthy (when the container defines a healthcheck)"}
    if inspected is None:
        return _result(name, "container", mandatory, "fail", None, expected,
                       f"no container named {container}")
    state = inspected.get("State") or {}
    health = (state.get("Health") or state.get("Healthcheck") or {}).get("Status") or None
    observed = {"running": bool(state.get("Running")), "status": state.get("Status"),
                "health": health}
    if not observed["running"]:
        status, message = "fail", f"{container} is not running ({state.get('Status')})"
    elif health in (None, "", "none", "healthy"):
        status, message = "pass", f"{container} is running" + (", healthy" if health else "")
    elif health == "starting":
        status, message = "warn", f"{container} is running, its healthcheck is still starting"
    else:
        status, message = "fail", f"{container} is running but {health}"
    return _result(name, "container", mandatory, status, observed, expected, message)


def runtime(name="podman", mandatory=True, containers=None, timeout_s=None):
    """
    Check that a container runtime (``podman`` or ``docker``) answers ``info``, and that each
    declared container (``containers``: {name: {mandatory}}) is running and, where it defines a
    healthcheck, healthy. Returns a list of check results.

    CLI Example:

    .. code-block:: bash

        salt '*' health.runtime podman
        salt '*' health.runtime docker mandatory=False containers='{"web": {}}'
    """
    if name not in ("podman", "docker"):
        raise CommandExecutionError(f"unknown container runtime {name!r}: podman or docker")
    check = f"runtime:{name}"
    if not shutil.which(name):
        return [_absent(check, "runtime", mandatory, name)]
    timeout = timeout_s or config()["timeout_s"]
    code, out, err = _runtime_cli(name, ["info", "--format", "{{json .}}"], timeout)
    if code != 0:
        reason = (err or out).strip().splitlines()[-1:] or [f"exit code {code}"]
        return [_result(check, "runtime", mandatory, "fail", {"exit_code": code}, "info answers",
                        f"{name} info failed: {reason[0]}")]
    info = json.loads(out or "{}")
    version = (info.get("version") or {}).get("Version") or info.get("ServerVersion")
    results = [_result(check, "runtime", mandatory, "pass", {"version": version},
                       "info answers", f"{name} {version} answers")]
    if containers:
        code, out, _ = _runtime_cli(name, ["inspect", "--type", "container", "--", *containers],
                                    timeout)
        # inspect prints what it found even when some names are unknown (and exits non-zero).
        found = {c.get("Name", "").lstrip("/"): c for c in json.loads(out or "[]") or []}
        results += [_container_result(name, c, {"mandatory": mandatory, **(s or {})}, found.get(c))
                    for c, s in containers.items()]
    return results


# --- disks -------------------------------------------------------------------------------------


def _mount_of(path, mounts):
    """The mount point (a key of *mounts*) holding *path*: the longest matching prefix."""
    real = os.path.realpath(path)
    best = None
    for mount in mounts:
        if real == mount or real.startswith(mount.rstrip("/") + "/"):
            if best is None or len(mount) > len(best):
                best = mount
    return best


def _percent(text):
    try:
        return int(str(text).rstrip("%"))
    except ValueError:
        return None


def _level(used, warn, critical):
    if used >= critical:
        return "fail"
    return "warn" if used >= warn else "pass"


def _usage_result(kind, path, spec, table, field, warn, critical):
    name, mandatory = f"{kind}:{path}", spec.get("mandatory", True)
    expected = {"warn_percent": warn, "critical_percent": critical}
    if not os.path.exists(path):
        return _result(name, kind, mandatory, "fail" if mandatory else "skip", None, expected,
                       f"{path} does not exist" + ("" if mandatory else " (optional: skipped)"))
    mount = _mount_of(path, table)
    used = _percent((table.get(mount) or {}).get(field)) if mount else None
    if used is None:
        return _result(name, kind, mandatory, "fail" if mandatory else "skip", None, expected,
                       f"no usage figure for {path} (filesystem without {kind} accounting?)")
    status = _level(used, warn, critical)
    what = "space" if kind == "disk" else "inodes"
    message = f"{mount} ({path}) {used}% {what} used"
    if status != "pass":
        message += f", at or above the {'critical' if status == 'fail' else 'warning'} level"
    return _result(name, kind, mandatory, status, {"mount": mount, "used_percent": used},
                   expected, message)


def disk(disks=None):
    """
    Check disk space and inode usage per path against warn/critical percentages. *disks* maps
    paths to ``{warn, critical, inode_warn, inode_critical, inodes (default true), mandatory}``;
    a path that is not a mount point is judged by the filesystem holding it. Usage comes from
    ``disk.usage`` and ``disk.inodeusage``.

    CLI Example:

    .. code-block:: bash

        salt '*' health.disk
        salt '*' health.disk '{"/var": {"warn": 70, "critical": 85}}'
    """
    specs = config()["disks"] if disks is None else disks
    blocks = __salt__["disk.usage"]()
    inodes = __salt__["disk.inodeusage"]()
    results = []
    for path, spec in specs.items():
        spec = spec or {}
        if not _enabled(spec):
            results.append(_disabled(f"disk:{path}", "disk", spec.get("mandatory", True)))
            continue
        warn, critical = spec.get("warn", 80), spec.get("critical", 90)
        if not 0 <= warn <= critical <= 100:
            raise CommandExecutionError(
                f"disk {path}: need 0 <= warn ({warn}) <= critical ({critical}) <= 100")
        results.append(_usage_result("disk", path, spec, blocks, "capacity", warn, critical))
        if spec.get("inodes", True):
            results.append(_usage_result("inodes", path, spec, inodes, "use",
                                         spec.get("inode_warn", warn),
                                         spec.get("inode_critical", critical)))
    return results


# --- endpoints ---------------------------------------------------------------------------------


def _split_hostport(text, default_port=None):
    host, sep, port = str(text).rpartition(":")
    if not sep:
        host, port = text, default_port
    if not host or not str(port).isdigit():
        raise CommandExecutionError(f"not host:port: {text!r}")
    return host.strip("[]"), int(port)


def _cert_days(der):
    """Days until the certificate (DER bytes) expires; None when it cannot be read here."""
    try:
        from cryptography import x509  # noqa: PLC0415 - optional, only for TLS endpoints
    except ImportError:
        return None
    cert = x509.load_der_x509_certificate(der)
    expires = cert.not_valid_after_utc
    return round((expires - datetime.datetime.now(datetime.UTC)).total_seconds() / 86400, 1)


def _http_probe(url, spec, timeout):
    """Status, body (when asked) and peer certificate of one request, without following
    redirects: a 301 from the endpoint is what the check is about, not where it leads."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CommandExecutionError(f"not an http(s) URL: {url!r}")
    if parts.scheme == "https":
        context = ssl.create_default_context()
        if not spec.get("verify_tls", True):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout,
                                           context=context)
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request(spec.get("method", "GET"), target, headers={"User-Agent": "dsu-health/1"})
        cert = conn.sock.getpeercert(binary_form=True) if parts.scheme == "https" else None
        response = conn.getresponse()
        body = response.read(spec.get("max_body", 65536)) if spec.get("body_match") else b""
        return response.status, body.decode("utf-8", "replace"), cert
    finally:
        conn.close()


def _tls_result(name, spec, mandatory, der):
    warn, critical = spec.get("cert_warn_days", 21), spec.get("cert_critical_days", 7)
    expected = {"warn_days": warn, "critical_days": critical}
    days = _cert_days(der) if der else None
    if days is None:
        return _result(f"tls:{name}", "tls", mandatory, "warn", None, expected,
                       "certificate expiry not readable (python3-cryptography missing?)")
    status = "fail" if days <= critical else "warn" if days <= warn else "pass"
    return _result(f"tls:{name}", "tls", mandatory, status, {"days_left": days}, expected,
                   f"certificate expires in {days} days")


def _http_results(name, spec, mandatory, timeout):
    url = spec["url"]
    want = [int(s) for s in spec.get("status", [200])]
    pattern = spec.get("body_match")
    expected = {"status": want, **({"body_match": pattern} if pattern else {})}
    try:
        status, body, cert = _http_probe(url, spec, timeout)
    except (OSError, http.client.HTTPException) as exc:
        reason = f"no answer within {timeout:g}s" if isinstance(exc, TimeoutError) else \
            f"{type(exc).__name__}: {exc}"
        return [_result(f"endpoint:{name}", "endpoint", mandatory, "fail", None, expected,
                        f"{url}: {reason}")]
    good = status in want and (not pattern or re.search(pattern, body) is not None)
    message = f"{url} answered {status}"
    if status not in want:
        message += f", expected one of {want}"
    elif not good:
        message += f", body does not match {pattern!r}"
    results = [_result(f"endpoint:{name}", "endpoint", mandatory, "pass" if good else "fail",
                       {"status": status}, expected, message)]
    if cert is not None and spec.get("tls", True):
        results.append(_tls_result(name, spec, mandatory, cert))
    return results


def _tcp_result(name, spec, mandatory, timeout):
    host, port = _split_hostport(spec["tcp"])
    ret = __salt__["network.connect"](host, port, timeout=timeout)
    expected = {"connect": f"{host}:{port}"}
    return [_result(f"endpoint:{name}", "endpoint", mandatory,
                    "pass" if ret.get("result") else "fail", {"connected": bool(ret.get("result"))},
                    expected, ret.get("comment", ""))]


def endpoint(name, url=None, tcp=None, mandatory=True, timeout_s=None, **spec):
    """
    Probe one endpoint: ``url`` (http/https: status in ``status`` (default [200]), optional
    ``body_match`` regex, certificate days to expiry with ``cert_warn_days`` /
    ``cert_critical_days`` for https, ``verify_tls``) or ``tcp`` (``host:port``, connect through
    ``network.connect``). Returns a list of check results (two for https: endpoint and tls).

    CLI Example:

    .. code-block:: bash

        salt '*' health.endpoint web url=http://127.0.0.1/ status='[200, 301]'
        salt '*' health.endpoint db tcp=10.0.0.5:5432 timeout_s=2
    """
    spec = {k: v for k, v in spec.items() if not k.startswith("__")}
    timeout = float(timeout_s or config()["timeout_s"])
    if bool(url) == bool(tcp):
        raise CommandExecutionError(f"endpoint {name}: give exactly one of url or tcp")
    if url:
        return _http_results(name, {**spec, "url": url}, mandatory, timeout)
    return _tcp_result(name, {**spec, "tcp": tcp}, mandatory, timeout)


# --- time --------------------------------------------------------------------------------------


def time_sync(mandatory=False):
    """
    Check that the clock is synchronised: chrony's tracking report where chrony is installed,
    otherwise systemd's ``NTPSynchronized``.

    CLI Example:

    .. code-block:: bash

        salt '*' health.time_sync
    """
    expected = {"synchronised": True}
    if shutil.which("chronyc"):
        try:
            tracking = __salt__["timesync.tracking"]()
        except CommandExecutionError as exc:
            return _result("time:sync", "time", mandatory, "fail", None, expected, str(exc))
        synced = tracking["synced"]
        observed = {"source": "chrony", "leap_status": tracking.get("Leap status"),
                    "reference": tracking.get("Reference ID")}
    else:
        ret = __salt__["cmd.run_all"](["timedatectl", "show", "--property=NTPSynchronized",
                                       "--value"], python_shell=False, ignore_retcode=True)
        if ret["retcode"] != 0:
            return _absent("time:sync", "time", mandatory, "chrony or timedatectl")
        synced = ret["stdout"].strip() == "yes"
        observed = {"source": "systemd", "ntp_synchronized": ret["stdout"].strip()}
    return _result("time:sync", "time", mandatory, "pass" if synced else "fail", observed,
                   expected, "clock synchronised" if synced else "clock not synchronised")


# --- running everything ------------------------------------------------------------------------


def _probe(name, kind, mandatory, timeout, func):
    """One unit of concurrent work: *func* returns a list of results; *name*, *kind* and
    *mandatory* describe the failure reported if it raises or misses its deadline."""
    return {"name": name, "kind": kind, "mandatory": mandatory, "timeout": timeout, "func": func}


def _mandatory(specs):
    return any(_enabled(s) and (s or {}).get("mandatory", True) for s in (specs or {}).values())


def _probes(cfg):
    """Every configured check group as probes; each network endpoint is a probe of its own."""
    timeout = float(cfg["timeout_s"])
    probes = [_probe("unit:*", "unit", _mandatory(cfg["units"]), timeout,
                     lambda: units(cfg["units"])),
              _probe("disk:*", "disk", _mandatory(cfg["disks"]), timeout,
                     lambda: disk(cfg["disks"]))]
    spec = cfg.get("failed_units") or {}
    if _enabled(spec):
        probes.append(_probe("failed_units:all", "failed_units", spec.get("mandatory", False),
                             timeout, lambda: [failed_units(spec.get("mandatory", False),
                                                            spec.get("ignore"))]))
    for rt, spec in (cfg.get("runtimes") or {}).items():
        if _enabled(spec):
            required = spec.get("mandatory", True)
            probes.append(_probe(f"runtime:{rt}", "runtime", required, timeout,
                                 lambda rt=rt, spec=spec, required=required: runtime(
                                     rt, required, spec.get("containers"), timeout)))
    for name, spec in (cfg.get("endpoints") or {}).items():
        spec = {"mandatory": True, **(spec or {})}
        if not _enabled(spec):
            probes.append(_probe(f"endpoint:{name}", "endpoint", spec["mandatory"], 0,
                                 lambda n=name, s=spec: [_disabled(f"endpoint:{n}", "endpoint",
                                                                   s["mandatory"])]))
            continue
        own = float(spec.pop("timeout_s", timeout))
        spec.pop("enabled", None)
        probes.append(_probe(f"endpoint:{name}", "endpoint", spec["mandatory"], own,
                             lambda n=name, s=spec, t=own: endpoint(n, timeout_s=t, **s)))
    spec = cfg.get("time") or {}
    if _enabled(spec):
        probes.append(_probe("time:sync", "time", spec.get("mandatory", False), timeout,
                             lambda: [time_sync(spec.get("mandatory", False))]))
    return probes


def _run_concurrently(probes):
    """Run every probe in its own daemon thread; return their results in probe order. A probe
    still running at the deadline (its timeout plus a grace) is reported failed and abandoned:
    daemon threads cannot hold the process."""
    outcomes = [None] * len(probes)

    def run(index, probe):
        started = time.monotonic()
        try:
            results = probe["func"]()
        except Exception as exc:  # noqa: BLE001 - a broken check is a failed check, not a crash
            results = [_result(probe["name"], probe["kind"], probe["mandatory"], "fail",
                               message=f"check raised {type(exc).__name__}: {exc}")]
        elapsed = round((time.monotonic() - started) * 1000, 1)
        for result in results:
            result["duration_ms"] = elapsed
        outcomes[index] = results

    threads = []
    for index, probe in enumerate(probes):
        # A new thread starts with an empty context, where __salt__ would not resolve.
        ctx = contextvars.copy_context()
        thread = threading.Thread(target=ctx.run, args=(run, index, probe), daemon=True,
                                  name=f"health {probe['name']}")
        thread.start()
        threads.append(thread)
    started = time.monotonic()
    for probe, thread in zip(probes, threads, strict=True):
        thread.join(max(0.0, started + probe["timeout"] + DEADLINE_GRACE_S - time.monotonic()))
    results = []
    for probe, outcome in zip(probes, outcomes, strict=True):
        if outcome is None:
            outcome = [_result(probe["name"], probe["kind"], probe["mandatory"], "fail",
                               message=f"no result within {probe['timeout']:g}s")]
            outcome[0]["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
        results.extend(outcome)
    return results


def _now():
    return datetime.datetime.now(datetime.UTC)


def _run_id(run_id, cfg, started):
    run_id = str(run_id or cfg.get("run_id") or started.strftime("%Y%m%dT%H%M%SZ"))
    if not __utils__["health_report.is_run_id"](run_id):
        raise CommandExecutionError(
            f"run_id {run_id!r} must be 1-64 letters, digits, '.', '_' or '-' (a directory name)")
    return run_id


def summarize(results, run_id, host, started, finished, fail_on_mandatory=True):
    """
    Build the ``health-check/v1`` summary of a list of check results.

    CLI Example:

    .. code-block:: bash

        salt '*' health.summarize "$(salt-call --out=json health.units)" run1 web1 ...
    """
    counts = {s: sum(1 for r in results if r["status"] == s) for s in STATUSES}
    counts["total"] = len(results)
    mandatory_failures = [r["name"] for r in results if r["mandatory"] and r["status"] == "fail"]
    optional_failures = any(r["status"] == "fail" and not r["mandatory"] for r in results)
    if mandatory_failures:
        overall = "fail"
    elif counts["warn"] or optional_failures:
        overall = "warn"
    else:
        overall = "pass"
    return {
        **__utils__["health_report.schema_fields"](),
        "run_id": run_id,
        "host": host,
        "started": started.isoformat(timespec="milliseconds"),
        "finished": finished.isoformat(timespec="milliseconds"),
        "duration_ms": round((finished - started).total_seconds() * 1000, 1),
        "overall_status": overall,
        "overall_ok": not mandatory_failures,
        "fail_on_mandatory": bool(fail_on_mandatory),
        "counts": counts,
        "mandatory_failures": mandatory_failures,
        "checks": results,
    }


def check(run_id=None, checks=None, profile=False):
    """
    Run every configured health check (pillar ``health_check`` over the defaults, then the
    *checks* mapping over both; with *profile* the deployment profile's checks under the pillar's,
    see :func:`config`) and return the ``health-check/v1`` summary. Network probes run
    concurrently, each bounded by its own timeout, so the run takes about as long as the slowest
    single probe. *run_id* names the run (default: pillar ``health_check:run_id``, else the UTC
    start time), so hosts checked together share one artifact directory.

    CLI Example:

    .. code-block:: bash

        salt '*' health.check
        salt '*' health.check run_id=20261124T101500Z --return health_json
        salt '*' health.check checks='{"units": {"caddy.service": {"enabled": false}}}'
        salt '*' health.check profile=True
    """
    cfg = config(checks, profile)
    started = _now()
    run_id = _run_id(run_id, cfg, started)
    results = _run_concurrently(_probes(cfg))
    names = [r["name"] for r in results]
    duplicated = {n for n in names if names.count(n) > 1}
    if duplicated:
        raise CommandExecutionError(f"health check names are not unique: {sorted(duplicated)}")
    return summarize(results, run_id, __opts__["id"], started, _now(), cfg["fail_on_mandatory"])
