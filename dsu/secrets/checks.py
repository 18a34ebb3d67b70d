"""The secrets checks of preflight, run where the pillar is compiled (so where the secrets are
decrypted): every file provider.yaml lists decrypts here, no plaintext secret in plain pillar, key
directories private. Every problem is reported (file, key path, reason; never a value).

- every secrets file provider.yaml lists, for every target and both providers (a cutover or
  rollback switches providers without another edit), exists, is well-formed and decrypts with the
  keys here: SOPS files exactly as the pillar renderer does, ``#!yaml|gpg`` files block by block
  with GnuPG in Salt's ``gpg_keydir``;
- no plaintext-looking secret in pillar files that are not SOPS documents (dsu/secrets/plaintext.py),
  but for the key paths its allow list names;
- Salt's ``gpg_keydir``, ``GNUPGHOME`` and ``sops_gnupghome`` are directories of mode 0700 owned
  by the invoking user, age key files are 0600 or stricter.

Hostile input is bounded: every YAML file is read within dsu/yamlread.py's bounds (size, aliases,
nesting), and the checks as a whole within TIME_LIMIT seconds, past which they are one problem
naming the file they were at.
"""

import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from dsu import yamlread
from dsu.errors import BOUNDS, Problem, one_line
from dsu.saltconfig import Setup, absolute
from dsu.secrets import provider, sopsfile
from dsu.secrets.pillartext import read_gpg
from dsu.secrets.plaintext import read_allow, scan_plaintext

TIME_LIMIT = 60.0  # seconds for the local checks as a whole
T = TypeVar("T")


class Activity:
    """What the local checks are at (a file, or a step), named if they run out of time. Written
    by the checks' thread, read by the waiting one: a plain attribute, set whole."""

    def __init__(self) -> None:
        self.now = str(provider.PROVIDER_FILE)

    def at(self, what: object) -> None:
        self.now = str(what)


def check_gpg_file(path: Path, gpg: Any | None, keydir: Path) -> list[Problem]:
    """A ``#!yaml|gpg`` pillar file: renderer line, YAML, and every PGP message in it decrypts
    (without *gpg*, because gpg_keydir is missing, only the structure: that is reported apart)."""
    where = str(path)
    try:
        text = yamlread.read_text(path)
    except OSError as exc:
        return [Problem(where, f"cannot read: {exc.strerror}")]
    except UnicodeDecodeError as exc:
        return [Problem(where, f"cannot read: {one_line(str(exc))}")]
    except yamlread.YamlRefused as exc:
        return [Problem(where, str(exc), BOUNDS)]
    reading = read_gpg(text, gpg, str(keydir))
    return [Problem(where, error, BOUNDS if reading.refused else "") for error in reading.errors]


def check_sops_file(path: Path, conf: Setup) -> list[Problem]:
    """A SOPS pillar file: decrypts here and its MAC verifies, as Salt will read it."""
    lib = sopsfile()
    where = str(path)
    try:
        text = yamlread.read_text(path)
        lib.decrypt_text(text, lib.format_of(path), where, str(conf.sops_gnupghome), conf.age_identities())
    except OSError as exc:
        return [Problem(where, f"cannot read: {exc.strerror}")]
    except yamlread.YamlRefused as exc:
        return [Problem(where, str(exc), BOUNDS)]
    except lib.SopsError as exc:
        message = str(exc).removeprefix(where + ": ")  # the file is named once, in front
        return [Problem(where, one_line(message))]
    except UnicodeDecodeError as exc:
        return [Problem(where, f"cannot read: {one_line(str(exc))}")]
    if lib.format_of(path) == "yaml":
        import salt.utils.yaml  # noqa: PLC0415

        # Salt's yaml step (YAML 1.1) hands the data to the sops renderer; sops wrote YAML 1.2.
        # Salt's loader has no bounds, but this text passed sopsfile's (the same parser events).
        if salt.utils.yaml.safe_load(text) != lib.parse(text, "yaml", where):
            return [Problem(where, "an unencrypted value reads differently in Salt's YAML 1.1 "
                                   "(yes/no/on/off, 0-prefixed numbers): the MAC check would fail "
                                   "in the pillar; quote it")]
    return []


def check_secrets_files(conf: Setup, on_file: Callable[[Path], None] = lambda path: None
                        ) -> tuple[list[Problem], list[tuple[str, str]]]:
    """Problems of every file provider.yaml lists, and the (kind, SLS name) of those checked;
    *on_file* is told of each file before it is read."""
    config = provider.read(conf.pillar_roots)
    problems, files = list(config.problems), config.files()
    gpg = None
    if conf.gpg_keydir.is_dir() and any(kind == "gpg" for kind, _ in files):
        import gnupg  # noqa: PLC0415 - only when GPG files are listed

        gpg = gnupg.GPG(gnupghome=str(conf.gpg_keydir))
    for kind, name in files:
        path = provider.find_sls(conf.pillar_roots, name)
        if path is None:
            problems.append(Problem(f"{kind} SLS {name}", "listed in provider.yaml but no such file "
                                    "in the pillar roots"))
        else:
            on_file(path)
            problems += (check_gpg_file(path, gpg, conf.gpg_keydir) if kind == "gpg"
                         else check_sops_file(path, conf))
    return problems, files


def check_key_path(path: Path, what: str, required: bool = True, directory: bool = True) -> list[Problem]:
    """A key directory (a directory of mode 0700 owned by the invoking user) or, *directory* false,
    an age key file (0600 or stricter). A missing one is a problem when *required*."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return [Problem(str(path), f"{what} does not exist")] if required else []
    except OSError as exc:
        return [Problem(str(path), f"{what}: cannot stat: {exc.strerror}")]
    mode = stat.S_IMODE(info.st_mode)
    if not directory:
        return [Problem(str(path), f"{what} has mode {mode:04o}, must be 0600 or stricter")] \
            if mode & 0o177 else []
    if not stat.S_ISDIR(info.st_mode):
        return [Problem(str(path), f"{what} is not a directory")]
    problems = []
    if mode != 0o700:
        problems.append(Problem(str(path), f"{what} has mode {mode:04o}, must be 0700"))
    if info.st_uid != os.geteuid():
        problems.append(Problem(str(path), f"{what} is owned by uid {info.st_uid}, not by the invoking "
                                           f"user (uid {os.geteuid()})"))
    return problems


def check_key_dirs(conf: Setup, gpg_files: bool) -> list[Problem]:
    """Salt's gpg_keydir (required when GPG files are listed), GNUPGHOME, sops_gnupghome, age key
    files (the default one only when it exists)."""
    dirs = {conf.gpg_keydir: ("Salt's gpg_keydir", gpg_files)}
    if os.environ.get("GNUPGHOME"):
        dirs.setdefault(absolute(os.environ["GNUPGHOME"]), ("GNUPGHOME", True))
    if conf.master.get("sops_gnupghome"):
        dirs.setdefault(conf.sops_gnupghome, ("sops_gnupghome", True))
    problems = [p for path, (what, required) in dirs.items()
                for p in check_key_path(path, what, required)]
    seen = set()
    for what, path in conf.age_key_files:
        if path not in seen:
            seen.add(path)
            problems += check_key_path(path, what, required=what != "age key file", directory=False)
    return problems


def _all_local(conf: Setup, activity: Activity) -> tuple[list[Problem], str]:
    files, listed = check_secrets_files(conf, activity.at)
    allow, unallowed = read_allow(conf.pillar_roots)
    plain, scanned = scan_plaintext(conf.pillar_roots, allow, activity.at)
    activity.at("key directories")
    keys = check_key_dirs(conf, gpg_files=any(kind == "gpg" for kind, _ in listed))
    return (files + unallowed + plain + keys,
            f"{len(listed)} secrets file(s), {scanned} pillar file(s), key directories")


def _within(seconds: float, work: Callable[[], T]) -> tuple[bool, T | None]:
    """(True, work()) when it returns within *seconds*, else (False, None); what it raises is
    raised here.

    The work runs in a thread of its own and this one waits with a deadline, rather than under
    SIGALRM: it works from any thread (the CLI's main thread, a test, a caller's own worker),
    leaves the process's signal handlers alone (pytest's, Salt's), and its deadline holds while
    the work is inside C code (libyaml, a pipe to GnuPG), where a signal handler would only run
    once that returns. The price: a thread cannot be stopped, so an overrunning one is left
    behind as a daemon until it ends or the process does; the checks only read, so it changes
    nothing, and its late result is dropped."""
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as exc:  # handed to the waiting thread
            outcome.append((False, exc))

    worker = threading.Thread(target=run, name="dsu-local-checks", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive() or not outcome:
        return False, None
    returned, value = outcome[0]
    if not returned:
        raise value
    return True, value


def local_problems(conf: Setup, time_limit: float | None = None) -> tuple[list[Problem], str]:
    """Every operator-side problem, and a short account of what was checked; if that takes more
    than *time_limit* seconds (default TIME_LIMIT), one problem naming what was being read."""
    limit = TIME_LIMIT if time_limit is None else time_limit
    activity = Activity()
    finished, result = _within(limit, lambda: _all_local(conf, activity))
    if finished and result is not None:
        return result
    return ([Problem(activity.now, f"local checks did not finish within {limit:g} s: stopped while this "
                                   "was being read, nothing after it was checked", BOUNDS)],
            f"local checks stopped after {limit:g} s")
