"""`dsu preflight <target>`: every secrets and pillar problem, before any change.

On this machine (where salt-ssh compiles the pillar, so where the secrets are decrypted):

- every secrets file pillar/secrets/provider.yaml lists, for every target and both providers
  (a cutover or rollback switches providers without another edit), exists, is well-formed and
  decrypts with the keys here: SOPS files with ``_utils/sopsfile.py`` exactly as the pillar
  renderer does, ``#!yaml|gpg`` files block by block with GnuPG in Salt's ``gpg_keydir``;
- no plaintext-looking secret in pillar files that are not SOPS documents: a key named like a
  secret (``db_password``, ``api_key``, ``client_secret``, …) or anything under ``secrets:values``
  with a plain value; PGP messages and ``ENC[…]`` values are not plaintext. ``#!yaml|gpg`` files
  are scanned too, as an unencrypted value in one passes Salt's gpg renderer unchanged;
- Salt's ``gpg_keydir``, ``GNUPGHOME`` and ``sops_gnupghome`` are directories of mode 0700 owned
  by the invoking user, age key files are 0600 or stricter.

Then on the target, with salt-ssh: ``state.apply preflight test=True`` (salt/preflight): the
pillar compiles for it, the required secrets are in it, ``deploy:profile`` is known.

Every problem is reported (file or host, key path, reason; never a value). Nothing is written
anywhere but a temporary Salt config when ``--pillar-root`` is given.
"""

import os
import re
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dsu.errors import DsuError
from dsu.paths import REPO_ROOT
from dsu.pillartext import (
    JINJA_MARK,
    PGP_MESSAGE,
    key_path,
    one_line,
    read_gpg,
    renderers,
    walk,
    without_jinja,
)
from dsu.progress import Progress
from dsu.saltrun import SaltRun, salt_ssh, summarize_states
from dsu.secrets import sopsfile

PROVIDER_FILE = Path("secrets") / "provider.yaml"
PROVIDERS = ("gpg", "dual", "sops")
KINDS = ("gpg", "sops")
PILLAR_SUFFIXES = (".sls", ".yaml", ".yml", ".json")
VALUES_PATH = ("secrets", "values")

SOPS_VALUE = re.compile(r"^ENC\[[A-Z0-9_]+,data:")
# A key names a secret when its last word is one of these, or its last two words are a pair below
# (password_file, token_ttl or secret_name hold no secret).
SECRET_WORDS = {"password", "passwd", "passphrase", "pass", "pwd", "secret", "token",
                "credential", "credentials", "psk", "apikey", "privatekey"}
SECRET_PAIRS = {("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"),
                ("auth", "key"), ("signing", "key"), ("encryption", "key"), ("master", "key")}
SHAPE = "{gpg: [SLS, ...], sops: [SLS, ...]}"


@dataclass(frozen=True)
class Problem:
    where: str  # a file, a directory or a host
    what: str

    def line(self) -> str:
        return f"{self.where}: {self.what}"


# --- configuration -----------------------------------------------------------------------------


def _absolute(value: str | os.PathLike) -> Path:
    # salt-ssh runs from the checkout's root (dsu.saltrun), so Salt reads relative paths from there
    path = Path(os.path.expanduser(str(value)))
    return path if path.is_absolute() else REPO_ROOT / path


@dataclass
class Setup:
    """The Salt configuration the checks read, as salt-ssh will see it."""

    config_dir: Path
    master: dict[str, Any]
    pillar_roots: list[Path]
    gpg_keydir: Path
    sops_gnupghome: Path  # where the sops renderer finds PGP keys
    age_key_files: list[tuple[str, Path]] = field(default_factory=list)  # (what set it, path)

    def age_identities(self) -> list[str] | None:
        configured = self.master.get("sops_age_key_file")
        if not configured:
            return None  # as sops finds them (SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, default file)
        try:
            text = _absolute(configured).read_text(encoding="utf-8")
        except OSError:
            return []
        return [line.strip() for line in text.splitlines() if line.strip().startswith("AGE-SECRET-KEY-")]


def read_master(config_dir: Path) -> dict[str, Any]:
    """``<config_dir>/master`` and its ``master.d/*.conf`` (Salt's default_include), merged."""
    files = [config_dir / "master", *sorted((config_dir / "master.d").glob("*.conf"))]
    merged: dict[str, Any] = {}
    for path in files:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            if path.name == "master":
                raise DsuError(f"no Salt master config at {path}", "pass --config-dir DIR holding "
                               "a 'master' file, or leave it out for etc/salt") from None
            continue
        except (OSError, yaml.YAMLError) as exc:
            raise DsuError(f"{path}: cannot read: {one_line(str(exc))}") from None
        if not isinstance(data, dict):
            raise DsuError(f"{path} is not a YAML mapping")
        merged.update(data)
    return merged


def setup(config_dir: Path | None = None, pillar_root: Path | None = None) -> Setup:
    config_dir = _absolute(config_dir or Path("etc/salt"))
    master = read_master(config_dir)
    if pillar_root is not None:
        if not pillar_root.is_dir():
            raise DsuError(f"--pillar-root {pillar_root} is not a directory")
        roots = [pillar_root.resolve()]
    else:
        roots = [_absolute(r) for r in ((master.get("pillar_roots") or {}).get("base") or [])]
        if not roots:
            raise DsuError(f"{config_dir}/master has no pillar_roots:base")
    # Salt's gpg renderer: gpg_keydir, by default <config_dir>/gpgkeys
    keydir = _absolute(master.get("gpg_keydir") or config_dir / "gpgkeys")
    # the sops renderer: sops_gnupghome, else GNUPGHOME, else gpg_keydir
    sops_home = master.get("sops_gnupghome") or os.environ.get("GNUPGHOME")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    age_files = [(what, _absolute(value)) for what, value in (
        ("sops_age_key_file", master.get("sops_age_key_file")),
        ("SOPS_AGE_KEY_FILE", os.environ.get("SOPS_AGE_KEY_FILE")),
        ("age key file", os.path.join(xdg, "sops", "age", "keys.txt"))) if value]
    return Setup(config_dir, master, roots, keydir, _absolute(sops_home) if sops_home else keydir,
                 age_files)


@contextmanager
def salt_config_dir(conf: Setup, pillar_root: Path | None) -> Iterator[Path]:
    """The config dir for salt-ssh: *conf*'s own, or with --pillar-root a temporary copy of its
    master pointing pillar_roots there (gpg_keydir pinned: its default follows the config dir)."""
    if pillar_root is None:
        yield conf.config_dir
        return
    with tempfile.TemporaryDirectory(prefix="dsu-preflight-") as temporary:
        master = {**conf.master, "pillar_roots": {"base": [str(p) for p in conf.pillar_roots]},
                  "gpg_keydir": str(conf.gpg_keydir)}
        (Path(temporary) / "master").write_text(yaml.safe_dump(master, sort_keys=False))
        yield Path(temporary)


# --- secrets files -------------------------------------------------------------------------------


def find_sls(roots: list[Path], name: str) -> Path | None:
    """Where Salt finds SLS *name* (dots are directories; <name>.sls, else <name>/init.sls)."""
    relative = Path(*name.split("."))
    for root in roots:
        for candidate in (root / relative.with_name(relative.name + ".sls"), root / relative / "init.sls"):
            if candidate.is_file():
                return candidate
    return None


def read_provider(roots: list[Path]) -> tuple[dict[str, Any], list[Problem]]:
    """pillar secrets/provider.yaml, and what is wrong with its shape."""
    path = next((root / PROVIDER_FILE for root in roots if (root / PROVIDER_FILE).is_file()), None)
    if path is None:
        return {}, [Problem(str(roots[0] / PROVIDER_FILE), "missing: pillar/top.sls imports it")]
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return {}, [Problem(str(path), f"cannot read: {one_line(str(exc))}")]
    if not isinstance(data, dict):
        return {}, [Problem(str(path), "is not a YAML mapping")]
    problems = []
    if data.get("provider") not in PROVIDERS:
        problems.append(Problem(str(path), f"provider must be one of {', '.join(PROVIDERS)}"))
    if not isinstance(data.get("targets") or {}, dict):
        problems.append(Problem(str(path), f"targets must be a mapping of minion glob to {SHAPE}"))
        data["targets"] = {}
    if not isinstance(data.get("required") or [], list):
        problems.append(Problem(str(path), "required must be a list of secret names"))
    return data, problems


def listed_files(provider: dict[str, Any], source: str) -> tuple[list[tuple[str, str]], list[Problem]]:
    """(kind, SLS name) of every secrets file listed for any target, each once."""
    found: dict[tuple[str, str], None] = {}
    problems = []
    for target, kinds in (provider.get("targets") or {}).items():
        if not isinstance(kinds, dict):
            problems.append(Problem(source, f"targets:{target} must be a mapping {SHAPE}"))
            continue
        for kind, names in kinds.items():
            if kind not in KINDS:
                problems.append(Problem(source, f"targets:{target}:{kind}: unknown kind (gpg or sops)"))
            elif not isinstance(names, list) or not all(isinstance(n, str) for n in names or []):
                problems.append(Problem(source, f"targets:{target}:{kind} must be a list of SLS names"))
            else:
                found.update(dict.fromkeys((kind, name) for name in names))
    return list(found), problems


def check_gpg_file(path: Path, gpg: Any | None, keydir: Path) -> list[Problem]:
    """A ``#!yaml|gpg`` pillar file: renderer line, YAML, and every PGP message in it decrypts
    (without *gpg*, because gpg_keydir is missing, only the structure: that is reported apart)."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return [Problem(where, f"cannot read: {exc.strerror}")]
    return [Problem(where, error) for error in read_gpg(text, gpg, str(keydir)).errors]


def check_sops_file(path: Path, conf: Setup) -> list[Problem]:
    """A SOPS pillar file: decrypts here and its MAC verifies, as Salt will read it."""
    lib = sopsfile()
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        lib.decrypt_text(text, lib.format_of(path), where, str(conf.sops_gnupghome), conf.age_identities())
    except OSError as exc:
        return [Problem(where, f"cannot read: {exc.strerror}")]
    except lib.SopsError as exc:
        message = str(exc).removeprefix(where + ": ")  # the file is named once, in front
        return [Problem(where, one_line(message))]
    if lib.format_of(path) == "yaml":
        import salt.utils.yaml  # noqa: PLC0415

        # Salt's yaml step (YAML 1.1) hands the data to the sops renderer; sops wrote YAML 1.2
        if salt.utils.yaml.safe_load(text) != lib.parse(text, "yaml", where):
            return [Problem(where, "an unencrypted value reads differently in Salt's YAML 1.1 "
                                   "(yes/no/on/off, 0-prefixed numbers): the MAC check would fail "
                                   "in the pillar; quote it")]
    return []


def check_secrets_files(conf: Setup) -> tuple[list[Problem], list[tuple[str, str]]]:
    """Problems of every file provider.yaml lists, and the (kind, SLS name) of those checked."""
    provider, problems = read_provider(conf.pillar_roots)
    files, shape = listed_files(provider, str(conf.pillar_roots[0] / PROVIDER_FILE))
    problems += shape
    gpg = None
    if conf.gpg_keydir.is_dir() and any(kind == "gpg" for kind, _ in files):
        import gnupg  # noqa: PLC0415 - only when GPG files are listed

        gpg = gnupg.GPG(gnupghome=str(conf.gpg_keydir))
    for kind, name in files:
        path = find_sls(conf.pillar_roots, name)
        if path is None:
            problems.append(Problem(f"{kind} SLS {name}", "listed in provider.yaml but no such file "
                                    "in the pillar roots"))
        else:
            problems += (check_gpg_file(path, gpg, conf.gpg_keydir) if kind == "gpg"
                         else check_sops_file(path, conf))
    return problems, files


# --- plaintext secrets ----------------------------------------------------------------------------


def names_secret(key: str) -> bool:
    """True when a key's name says it holds a secret (db_password, apiKey, client_secret)."""
    words = [w for w in re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower()) if w]
    return bool(words) and (words[-1] in SECRET_WORDS or tuple(words[-2:]) in SECRET_PAIRS)


def _plain_value(value: Any) -> bool:
    """A literal, non-empty, unencrypted value."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, (int, float)):
        return True
    if not isinstance(value, str) or not value.strip() or JINJA_MARK in value:
        return False
    return not (PGP_MESSAGE.search(value) or SOPS_VALUE.match(value.strip()))


def _line_scan(text: str) -> list[str]:
    """Fallback for a file that does not read as YAML even without its Jinja: `key: value` lines."""
    found = []
    pattern = re.compile(r"^\s*(?:-\s+)?([\"']?)(?P<key>[^\s:\"'#][^:\"'#]*?)\1\s*:\s+"
                         r"(?P<value>[^\s#].*?)\s*$")
    for number, line in enumerate(text.splitlines(), 1):
        match = pattern.match(line)
        if not match or not names_secret(match["key"]):
            continue
        value = match["value"].split(" #")[0].strip()
        if value[:1] in "{[|>&*!" or value in ('""', "''", "~", "null", "true", "false"):
            continue
        if JINJA_MARK not in value:
            found.append(f"line {number}, key {match['key']}")
    return found


def plaintext_in(text: str) -> list[str] | None:
    """Key paths holding plaintext-looking secrets in one pillar file's text; None for a SOPS
    document (its unencrypted values are its author's explicit choice)."""
    stripped = without_jinja(text)
    try:
        data = yaml.safe_load(stripped)
    except yaml.YAMLError:
        return _line_scan(stripped)
    if sopsfile().is_sops_document(data):
        return None
    return [key_path(path) for path, value in walk(data)
            if path and _plain_value(value) and (path[:2] == VALUES_PATH or names_secret(path[-1]))]


def scan_plaintext(roots: list[Path]) -> tuple[list[Problem], int]:
    """Problems for plaintext-looking secrets in the pillar roots' files, and how many were read."""
    problems, scanned = [], 0
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.suffix in PILLAR_SUFFIXES and p.is_file()):
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(Problem(str(path), f"cannot read: {one_line(str(exc))}"))
                continue
            pipeline = renderers(text)
            if pipeline and not set(pipeline) <= {"jinja", "yaml", "gpg", "sops"}:
                continue  # #!py and friends: not data to scan
            scanned += 1
            for key in plaintext_in(text) or []:
                problems.append(Problem(str(path), f"{key}: looks like a plaintext secret; move it to "
                                                   "a SOPS file or encrypt it (dsu secrets gpg-encrypt)"))
    return problems, scanned


# --- key directories -----------------------------------------------------------------------------


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
        dirs.setdefault(_absolute(os.environ["GNUPGHOME"]), ("GNUPGHOME", True))
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


# --- on the target ------------------------------------------------------------------------------


def target_problems(host: str, run: SaltRun) -> list[Problem]:
    """Problems in salt-ssh's answer to ``state.apply preflight``: pillar errors, the preflight
    state's list, any other failure."""
    ret = run.returns.get(host)
    if ret is None:
        return [Problem(host, f"no answer from salt-ssh (exit {run.returncode}): {one_line(run.stderr)}")]
    if isinstance(ret, list):
        messages = [str(m) for m in ret]
        if messages and messages[0].startswith("Pillar failed to render"):
            return [Problem(host, f"pillar does not compile: {one_line(m)}") for m in messages[1:]] \
                or [Problem(host, "pillar does not compile")]
        return [Problem(host, f"state run failed: {one_line(m)}") for m in messages]
    if isinstance(ret, dict) and "retcode" in ret and not isinstance(ret.get("stderr"), dict):
        # salt-ssh's own failure (SSH, the thin) instead of a state return
        why = ret.get("stderr") or ret.get("stdout") or ret.get("_error") or ""
        return [Problem(host, f"salt-ssh failed (retcode {ret['retcode']}): {one_line(why)}")]
    summary = summarize_states(ret)
    if summary.errors:
        return [Problem(host, f"salt-ssh: {one_line(e)}") for e in summary.errors]
    problems, ran = [], False
    for key, state in ret.items():
        comment = one_line(state.get("comment", ""))
        if key.startswith("preflight_|-"):
            ran = True
            problems += [Problem(host, str(p)) for p in state.get("problems") or []]
            if state.get("result") is False and not state.get("problems"):
                problems.append(Problem(host, f"preflight state failed: {comment}"))
        elif state.get("result") is False:
            problems.append(Problem(host, f"{state.get('__id__', key)}: {comment}"))
    if not ran:
        problems.append(Problem(host, "the preflight state did not run"))
    return problems


def roster_for(target: str, roster_file: Path | None) -> Path:
    """The roster that has *target*: --roster-file, else the lab's for a running lab host."""
    if roster_file is None:
        from dsu.lab import hosts  # noqa: PLC0415
        from dsu.lab.roster import roster_path  # noqa: PLC0415

        if target not in {h.name for h in hosts.registered()}:
            raise DsuError(f"{target} is not a running lab host", "pass --roster-file ROSTER for other hosts")
        roster_file = roster_path(hosts.lab_dir())
    try:
        entries = yaml.safe_load(roster_file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DsuError(f"roster {roster_file}: cannot read: {one_line(str(exc))}") from None
    if not isinstance(entries, dict) or target not in entries:
        raise DsuError(f"{target} is not in the roster {roster_file}", "name a host of the roster")
    return roster_file


def local_checks(conf: Setup) -> tuple[list[Problem], str]:
    """Every operator-side problem, and a short account of what was checked."""
    files, listed = check_secrets_files(conf)
    plain, scanned = scan_plaintext(conf.pillar_roots)
    keys = check_key_dirs(conf, gpg_files=any(kind == "gpg" for kind, _ in listed))
    return files + plain + keys, f"{len(listed)} secrets file(s), {scanned} pillar file(s), key directories"


def preflight(target: str, roster_file: Path | None = None, config_dir: Path | None = None,
              pillar_root: Path | None = None, progress: Progress | None = None,
              timeout: float = 600) -> int:
    """Run every check, print one line per problem and a summary; 0 when there is none, else 1."""
    progress = progress or Progress()
    roster = roster_for(target, roster_file)
    conf = setup(config_dir, pillar_root)
    progress.step(f"local checks: pillar {', '.join(map(str, conf.pillar_roots))}, config {conf.config_dir}")
    problems, account = local_checks(conf)
    progress.step(f"{len(problems)} local problem(s); salt-ssh state.apply preflight", target)
    with salt_config_dir(conf, pillar_root) as salt_config:
        try:
            run = salt_ssh([target], "state.apply", "preflight", "test=True", roster=roster,
                           timeout=timeout, config_dir=salt_config)
        except subprocess.TimeoutExpired:
            run = SaltRun(-1, {}, f"salt-ssh did not finish within {timeout:.0f}s")
    remote = target_problems(target, run)
    progress.step(f"{len(remote)} problem(s) on the target", target)
    for problem in problems + remote:
        print(problem.line())
    total = len(problems) + len(remote)
    if total:
        print(f"preflight {target}: {total} problem(s) ({len(problems)} here, {len(remote)} on the target)")
        return 1
    print(f"preflight {target}: passed ({account}; pillar compiled and checked on the target)")
    return 0
