"""
One sshd drop-in, put in place only when sshd accepts it and says it is in force.

The drop-in holds ``Port`` lines, ``PermitRootLogin``, ``PasswordAuthentication`` and further
options. The new file is written, then checked: ``sshd -t`` (does sshd accept the whole
configuration) and ``sshd -T -C`` for the operator's connection (are the ports, root login and
password login what was asked, or does another file win: sshd keeps the first value it reads).
On any failure the previous file is put back (or the new one removed), ssh is not reloaded, and
the state fails with sshd's own words. Only a valid change reloads ssh (``systemctl reload``;
sessions survive, and Debian's ExecReload runs ``sshd -t`` once more).

.. code-block:: yaml

    security-ssh-dropin-managed:
      sshd_config.managed:
        - name: /etc/ssh/sshd_config.d/10-dsu-access.conf
        - ports: [2222]
        - permit_root_login: 'no'
        - settings: {MaxAuthTries: 3}
        - check_user: deploy
"""

import difflib
import glob
import os
import re

__virtualname__ = "sshd_config"

SSHD = "/usr/sbin/sshd"
SSHD_CONFIG = "/etc/ssh/sshd_config"
# The drop-in's owner (uid, gid) and mode.
OWNER = (0, 0)
MODE = 0o644
OPTION_RE = re.compile(r"[A-Za-z][A-Za-z0-9]{1,63}")
# Options this state sets from its own arguments, and words that would change what later lines
# of the drop-in mean: never from *settings*.
RESERVED = frozenset({"port", "permitrootlogin", "passwordauthentication", "match", "include"})
ROOT_LOGIN = ("no", "yes", "prohibit-password", "forced-commands-only")
# sshd -T names prohibit-password by its old name.
ROOT_LOGIN_ALIASES = {"without-password": "prohibit-password"}


def __virtual__():
    if __grains__.get("kernel") != "Linux":
        return (False, "sshd_config: only Linux hosts are supported")
    return __virtualname__


def _value_text(option, value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (isinstance(value, str) and value.strip()):
        text = str(value).strip()
        if any(ord(c) < 32 or c in "#\x7f" for c in text):
            raise ValueError(f"the value of {option} is not one printable line without #")
        return text
    raise ValueError(f"the value of {option} must be a non-empty string, a number or a boolean")


def render(ports, permit_root_login=None, password_authentication=None, settings=None):
    """The drop-in's text; ValueError naming the first bad argument."""
    if not ports or not isinstance(ports, (list, tuple)):
        raise ValueError("ports must be a non-empty list")
    unique = []
    for port in ports:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"port {port!r} is not a TCP port number")
        if port not in unique:
            unique.append(port)
    lines = ["# Managed by deploy-system-unified (security.ssh); sshd keeps the first value it",
             "# reads, and Debian's sshd_config includes this directory before its own lines."]
    lines += [f"Port {port}" for port in unique]
    if permit_root_login is not None:
        if permit_root_login not in ROOT_LOGIN:
            raise ValueError(f"permit_root_login must be one of {', '.join(ROOT_LOGIN)} or None")
        lines.append(f"PermitRootLogin {permit_root_login}")
    if password_authentication is not None:
        if not isinstance(password_authentication, bool):
            raise ValueError("password_authentication must be true, false or None")
        lines.append(f"PasswordAuthentication {_value_text('', password_authentication)}")
    for option, value in sorted((settings or {}).items()):
        if not isinstance(option, str) or not OPTION_RE.fullmatch(option):
            raise ValueError(f"{option!r} is not an sshd option name")
        if option.lower() in RESERVED:
            raise ValueError(f"{option} cannot be set through settings")
        lines.append(f"{option} {_value_text(option, value)}")
    return "\n".join(lines) + "\n"


def parse_effective(text):
    """``sshd -T`` output as {option: [values]} (options lowercase, as sshd prints them)."""
    found = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key:
            found.setdefault(key.lower(), []).append(value.strip())
    return found


def _setters(option, dropin):
    """The other configuration files with an *option* line, for a message."""
    files = [SSHD_CONFIG, *sorted(glob.glob(os.path.join(os.path.dirname(dropin), "*.conf")))]
    pattern = re.compile(rf"^\s*{option}\s", re.IGNORECASE | re.MULTILINE)
    found = []
    for path in files:
        if path == dropin:
            continue
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                if pattern.search(handle.read()):
                    found.append(path)
        except OSError:
            continue
    return found


def mismatches(effective, ports, permit_root_login=None, password_authentication=None, dropin=""):
    """What sshd has in force that differs from what was asked, one sentence each."""
    problems = []

    def differs(option, in_force, wanted):
        others = _setters(option, dropin) if dropin else []
        where = f"set in {', '.join(others)}" if others else "set by another file or sshd's default"
        problems.append(f"{option} in force is {in_force}, not {wanted}: another file wins ({where})")

    in_force = sorted({int(p) for p in effective.get("port", []) if p.isdigit()})
    if in_force != sorted(set(ports)):
        differs("Port", " ".join(map(str, in_force)) or "none",
                " ".join(map(str, sorted(set(ports)))))
    if permit_root_login is not None:
        value = (effective.get("permitrootlogin") or ["unknown"])[0]
        value = ROOT_LOGIN_ALIASES.get(value, value)
        if value != permit_root_login:
            differs("PermitRootLogin", value, permit_root_login)
    if password_authentication is not None:
        value = (effective.get("passwordauthentication") or ["unknown"])[0]
        wanted = "yes" if password_authentication else "no"
        if value != wanted:
            differs("PasswordAuthentication", value, wanted)
    return problems


def _run(argv):
    return __salt__["cmd.run_all"](argv, python_shell=False, ignore_retcode=True,
                                   output_loglevel="debug")


def _output(ret):
    return (ret.get("stderr") or ret.get("stdout") or f"exit code {ret.get('retcode')}").strip()


def _check(name, ports, permit_root_login, password_authentication, check_user):
    """The reason sshd's configuration on disk is not the one asked for, or "" when it is."""
    test = _run([SSHD, "-t"])
    if test["retcode"] != 0:
        return f"sshd -t refuses the configuration: {_output(test)}"
    spec = f"user={check_user},host=localhost,addr=127.0.0.1,lport={ports[0]}"
    dump = _run([SSHD, "-T", "-C", spec])
    if dump["retcode"] != 0:
        return f"sshd -T -C {spec} failed: {_output(dump)}"
    found = mismatches(parse_effective(dump["stdout"]), ports, permit_root_login,
                       password_authentication, name)
    return "; ".join(found)


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read(), os.stat(path)
    except FileNotFoundError:
        return None, None


def _restore(name, old, old_stat):
    if old is None:
        os.unlink(name)
    else:
        __utils__["owned_file.write"](name, old, old_stat.st_mode & 0o7777, old_stat.st_uid,
                                      old_stat.st_gid)


def managed(name, ports, permit_root_login=None, password_authentication=None, settings=None,
            check_user="root", service="ssh"):
    """
    Ensure the sshd drop-in *name* holds exactly these options and sshd has them in force.

    name
        The drop-in, e.g. ``/etc/ssh/sshd_config.d/10-dsu-access.conf``; its directory must exist
        and be included by sshd_config.
    ports
        The ports sshd listens on, one ``Port`` line each.
    permit_root_login
        ``no``, ``yes``, ``prohibit-password`` or ``forced-commands-only``; None: no line.
    password_authentication
        True or False; None: no line.
    settings
        Further options, option -> value (booleans become yes/no).
    check_user
        The user whose connection ``sshd -T -C`` evaluates (Match blocks).
    service
        sshd's unit, reloaded after a valid change when it runs.
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    try:
        text = render(ports, permit_root_login, password_authentication, settings)
    except ValueError as exc:
        ret.update(result=False, comment=f"{name} not changed: {exc}")
        return ret
    if not os.path.exists(SSHD):
        ret.update(result=False, comment=f"{SSHD} is missing: openssh-server is not installed")
        return ret
    if os.path.islink(name) or (os.path.lexists(name) and not os.path.isfile(name)):
        ret.update(result=False, comment=f"{name} exists but is not a regular file")
        return ret
    if not os.path.isdir(os.path.dirname(name)):
        ret.update(result=False, comment=f"the directory of {name} does not exist")
        return ret
    ports = list(dict.fromkeys(ports))
    new = text.encode()
    old, old_stat = _read(name)

    if old == new and (old_stat.st_mode & 0o7777, old_stat.st_uid, old_stat.st_gid) == (MODE, *OWNER):
        problem = _check(name, ports, permit_root_login, password_authentication, check_user)
        if problem:
            ret.update(result=False, comment=f"{name} is in place but {problem}")
        else:
            ret["comment"] = (f"{name} is in place and sshd's effective configuration (sshd -T) "
                              f"has what it asks: Port {' '.join(map(str, ports))}")
        return ret

    before = (old or b"").decode("utf-8", "replace").splitlines(keepends=True)
    diff = "".join(difflib.unified_diff(before, text.splitlines(keepends=True),
                                        fromfile=name if old is not None else "/dev/null",
                                        tofile=name))
    changes = {"diff": diff or f"mode and owner set to {MODE:04o} {OWNER[0]}:{OWNER[1]}"}
    if __opts__["test"]:
        ret.update(result=None, changes=changes,
                   comment=f"{name} would be written, checked with sshd -t and sshd -T, and "
                           f"{service} reloaded if it runs")
        return ret

    __utils__["owned_file.write"](name, new, MODE, *OWNER)
    problem = _check(name, ports, permit_root_login, password_authentication, check_user)
    undone = "previous file restored" if old is not None else "new file removed"
    if problem:
        _restore(name, old, old_stat)
        ret.update(result=False, comment=f"{name} not changed ({undone}, {service} not reloaded): "
                                         f"{problem}")
        return ret

    if _run(["systemctl", "is-active", "--quiet", f"{service}.service"])["retcode"] != 0:
        changes["reloaded"] = f"no: {service} is not running (its service state starts it)"
    else:
        reload = _run(["systemctl", "reload", f"{service}.service"])
        if reload["retcode"] != 0:
            # sshd still runs the old configuration: the file on disk goes back to match it.
            _restore(name, old, old_stat)
            ret.update(result=False, comment=f"{name} not changed ({undone}): systemctl reload "
                                             f"{service} failed: {_output(reload)}")
            return ret
        changes["reloaded"] = service
    ret["changes"] = changes
    ret["comment"] = (f"{name} written, accepted by sshd (sshd -t, sshd -T) and "
                      + (f"{service} reloaded" if changes["reloaded"] == service
                         else f"in place ({changes['reloaded']})"))
    return ret
