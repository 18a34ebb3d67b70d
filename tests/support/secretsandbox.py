"""A throwaway checkout for the tests of `dsu secrets migrate|rotate|add-recipient|remove-recipient`
and of the operator docs that use them.

The sandbox is a copy of the repo's pillar/ with a `.sops.yaml` at its root, a GNUPGHOME with two
secret PGP keys (the sops test key standing for the Salt master's, a generated one for an
operator), an operator age identity, and for target '*' one GPG pillar file and one SOPS pillar
file that hold the same values, among them CANARY, which no output may ever contain.
"""

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.sopskeys import (
    GnupgHome,
    gnupg_home_at,
    key_env,
    make_age_identity,
    make_pgp_key,
    write_age_keys,
)

REPO = Path(__file__).resolve().parents[2]
CANARY = "canary-5d1f0c-never-print-me"
# What both providers hold: secret strings (armored one by one in the GPG file) and plain typed
# settings (plain in the GPG file, encrypted with their types in the SOPS file).
VALUES = {"db_password": CANARY, "api_token": "tok-31415926",
          "tls_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----"}
SETTINGS = {"port": 5432, "replicas": ["db1", "db2"], "tls": True}
GPG_SLS, SOPS_SLS = "secrets.gpg.common", "secrets.sops.common"


@dataclass
class Sandbox:
    root: Path
    home: GnupgHome
    master_fp: str  # the sops test key, as the Salt master's key
    operator_fp: str
    age_identity: str
    age_recipient: str
    age_keys: Path
    env: dict[str, str | None] = field(default_factory=dict)

    @property
    def gpg_file(self) -> Path:
        return self.root / "pillar/secrets/gpg/common.sls"

    @property
    def sops_file(self) -> Path:
        return self.root / "pillar/secrets/sops/common.sls"

    @property
    def provider_file(self) -> Path:
        return self.root / "pillar/secrets/provider.yaml"

    @property
    def audit_log(self) -> Path:
        return self.root / "pillar/secrets/audit.jsonl"

    @property
    def provider(self) -> str:
        return yaml.safe_load(self.provider_file.read_text())["provider"]

    def dsu(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        """The real `dsu` command, run in the sandbox with its keys and no others."""
        return subprocess.run([str(Path(sys.executable).parent / "dsu"), *args], cwd=self.root,
                              env=self.environ(), input=input, capture_output=True, text=True,
                              check=False, timeout=120)

    def environ(self) -> dict[str, str]:
        environ = {k: v for k, v in os.environ.items() if k not in self.env}
        environ.update({k: v for k, v in self.env.items() if v is not None})
        environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}"
        return environ

    def gpg_armor(self, value: str, recipients: list[str] | None = None) -> str:
        from dsu.secrets.files import gpg_encrypt_value

        return gpg_encrypt_value(value.encode(), recipients or [self.master_fp, self.operator_fp],
                                 str(self.home.path))

    def write_gpg_file(self, values: dict[str, str], settings: dict[str, Any] | None = None,
                       recipients: dict[str, list[str]] | None = None, path: Path | None = None) -> Path:
        """A `#!yaml|gpg` pillar file: each value armored (to *recipients*[name] or both PGP keys)."""
        path = path or self.gpg_file
        armored = {k: self.gpg_armor(v, (recipients or {}).get(k)) for k, v in values.items()}
        body = yaml.safe_dump({"secrets": {"values": armored, "settings": SETTINGS if settings is None
                                           else settings}}, sort_keys=False, default_style=None)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!yaml|gpg\n" + body)
        return path

    def write_sops_file(self, values: dict[str, Any], settings: dict[str, Any] | None = None,
                        path: Path | None = None, **recipients: list[str]) -> Path:
        """A SOPS pillar file written by `dsu secrets encrypt` (recipients from .sops.yaml unless
        pgp=/age= are given)."""
        from dsu.secrets.files import encrypt_file

        path = path or self.sops_file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump({"secrets": {"values": values, "settings": SETTINGS if settings
                                                    is None else settings}}, sort_keys=False))
        with self.keys():
            encrypt_file(path, None, recipients.get("pgp", []), recipients.get("age", []),
                         self.root / ".sops.yaml")
        return path

    def set_targets(self, targets: dict[str, dict[str, list[str]]]) -> None:
        """Replace the top-level `targets:` entry of provider.yaml, leaving the rest as it is."""
        block = yaml.safe_dump({"targets": targets}, sort_keys=False, default_flow_style=None)
        text, count = re.subn(r"^targets:.*?(?=^[^\s#]|\Z)", lambda _: block + "\n",
                              self.provider_file.read_text(), flags=re.MULTILINE | re.DOTALL)
        assert count == 1, "provider.yaml has no top-level targets: entry"
        self.provider_file.write_text(text)

    @contextmanager
    def keys(self) -> Iterator[None]:
        """This process sees the sandbox's keys (and no others) inside the block."""
        saved = {k: os.environ.get(k) for k in self.env}
        try:
            for key, value in self.env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def snapshot(self) -> dict[str, bytes]:
        """Every file under pillar/ by relative path, with its bytes."""
        return {str(p.relative_to(self.root)): p.read_bytes()
                for p in sorted(self.root.joinpath("pillar").rglob("*")) if p.is_file()}


def export_secret_key(source: GnupgHome, fingerprint: str, target: GnupgHome) -> None:
    """Copy the (passphrase-less) secret key *fingerprint* from one GNUPGHOME into another."""
    armored = subprocess.run(["gpg", "--homedir", str(source.path), "--batch", "--pinentry-mode", "loopback",
                              "--passphrase", "", "--armor", "--export-secret-keys", fingerprint],
                             capture_output=True, check=True).stdout
    subprocess.run(["gpg", "--homedir", str(target.path), "--batch", "--import"], input=armored,
                   capture_output=True, check=True)


def export_public_key(source: GnupgHome, fingerprint: str) -> str:
    return subprocess.run(["gpg", "--homedir", str(source.path), "--armor", "--export", fingerprint],
                          capture_output=True, text=True, check=True).stdout


def sops_config(pgp: list[str], age: list[str]) -> str:
    return yaml.safe_dump({"creation_rules": [{"path_regex": r"^pillar/secrets/(gpg|sops)/.*\.sls$",
                                               "pgp": ",".join(pgp), "age": ",".join(age)}]},
                          sort_keys=False)


@contextmanager
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """The sandbox described above, in *tmp_path*/repo; gpg agents stopped at the end."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "pillar", root / "pillar", ignore=shutil.ignore_patterns("audit.jsonl"))
    with gnupg_home_at(tmp_path / "gnupg") as home:
        operator = make_pgp_key(home, "operator")
        identity, recipient = make_age_identity()
        age_keys = write_age_keys(tmp_path / "age-keys.txt", identity)
        box = Sandbox(root, home, home.fingerprint, operator, identity, recipient, age_keys,
                      key_env(home, age_keys))
        (root / ".sops.yaml").write_text(sops_config([box.master_fp, operator], [recipient]))
        box.set_targets({"*": {"gpg": [GPG_SLS], "sops": [SOPS_SLS]}})
        box.write_gpg_file(VALUES)
        box.write_sops_file(VALUES)
        yield box


@pytest.fixture(name="box")
def box_fixture(tmp_path: Path) -> Iterator[Sandbox]:
    """The sandbox for one test, as fixture `box` (import box_fixture into the test module)."""
    with sandbox(tmp_path) as made:
        yield made
