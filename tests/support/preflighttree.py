"""Pillar trees for the preflight tests, made the way operators make them: the repo's top.sls and
secrets/provider.sls, SOPS files from _utils/sopsfile (dsu secrets encrypt's code), `#!yaml|gpg`
files with values from dsu secrets gpg-encrypt's code, and a Salt config dir (the repo's master
with gpg_keydir pointing at the test keys). With broken=True, every kind of problem preflight
must report, all at once; with hostile=True, secrets only their values give away (under keys not
named like secrets), two of them allowed, and alias bombs in a plain, a SOPS and a GPG file.

The secret values are canaries: a test can assert that none of them is ever printed.
"""

import os
import shutil
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dsu.secrets import sopsfile
from dsu.secrets.files import gpg_encrypt_value
from tests.support.sopskeys import GnupgHome, gnupg_home_at, key_env, make_age_identity, make_pgp_key

LISTED = "(listed in secrets:required, declared in secrets/provider.yaml)"

REPO = Path(__file__).resolve().parents[2]
CANARIES = {"db_password": "canary-db-5e1f0c7a", "api_token": "canary-api-93b2d4e6"}
PLAINTEXT = "hunter2-canary-plain"  # the plaintext secret planted in plain pillar
# the secrets of the hostile tree, each found (or allowed) by its value alone
VALUE_CANARIES = {
    "pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIEcanaryPemBody7f3a9c2e\n-----END RSA PRIVATE KEY-----\n",
    "token": "Xk9Qz2Lw7Rt4Vb8Nm3Pc6Hd1Jf5Gs0canaryRootPw",
    "url": "https://backup:canary-url-pass@backup.example.com/",
    "allowed": "Pq7Zt3Wx9Lm2Kc8Vn4Rb6Hs1Jd5Gf0canaryAllowed",
    "chain": "Mw4Tz8Qx2Lp6Kd9Vr3Nc7Hb1Js5Gf0canaryChain",
}
OTHER = "elsewhere-*"  # a target no test host matches: its files are only checked locally


@dataclass
class Tree:
    pillar: Path  # the pillar root (--pillar-root)
    config: Path  # a Salt config dir (--config-dir): gpg_keydir is keys.path
    keys: GnupgHome
    # what preflight must report: (where ends with, what contains), the order of no importance
    local: list[tuple[str, str]] = field(default_factory=list)
    target: list[str] = field(default_factory=list)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def sops_text(data: dict, keys: GnupgHome) -> str:
    return sopsfile().encrypt_data(data, "yaml", pgp=[keys.fingerprint], gnupg_home=str(keys.path))


def gpg_file(values: dict[str, bytes], recipient: str, home: Path) -> str:
    """A `#!yaml|gpg` pillar file with secrets:values encrypted one by one."""
    lines = ["#!yaml|gpg", "secrets:", "  values:"]
    for name, value in values.items():
        block = gpg_encrypt_value(value, [recipient], str(home))
        lines += [f"    {name}: |", textwrap.indent(block, " " * 6)]
    return "\n".join(lines)


def tamper(text: str) -> str:
    """Change one base64 character of the first encrypted value's data."""
    at = text.index("ENC[AES256_GCM,data:") + len("ENC[AES256_GCM,data:")
    return text[:at] + ("B" if text[at] == "A" else "A") + text[at + 1:]


def alias_bomb(levels: int = 10, width: int = 10) -> str:
    """A "billion laughs" of well under 1 KB: each level a list of *width* aliases of the level
    before, width**levels leaves for a reader walking the data."""
    lines = ["lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels):
        lines.append(f"lol{level}: &lol{level} [{', '.join([f'*lol{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def write_tree(base: Path, keys: GnupgHome, host: str, broken: bool = False,
               host_gets_tampered: bool = False, hostile: bool = False) -> Tree:
    """A pillar tree under *base* for *host* (a minion id). The host gets a good SOPS file (the
    database password) and a good GPG file (the API token), or with *host_gets_tampered* a
    tampered SOPS file, so its pillar cannot compile."""
    pillar, config = base / "pillar", base / "config"
    keys.path.chmod(0o700)  # a broken tree before may have opened it
    shutil.copytree(REPO / "pillar", pillar, ignore=shutil.ignore_patterns("provider.yaml"))
    master = yaml.safe_load((REPO / "etc/salt/master").read_text())
    master["gpg_keydir"] = str(keys.path)
    _write(config / "master", yaml.safe_dump(master))
    good_sops = sops_text({"secrets": {"values": {"db_password": CANARIES["db_password"]}}}, keys)
    _write(pillar / "secrets/sops/common.sls", good_sops)
    _write(pillar / "secrets/gpg/common.sls",
           gpg_file({"api_token": CANARIES["api_token"].encode()}, keys.fingerprint, keys.path))
    targets = {host: {"sops": ["secrets.sops.common"], "gpg": ["secrets.gpg.common"]}}
    required = ["db_password", "api_token"]
    defaults = {"core": {"secrets": {"files": {"api-token": {"value": "api_token"}}}},
                "deploy": {"profile": "dev"}}
    tree = Tree(pillar, config, keys)
    if host_gets_tampered:
        _write(pillar / "secrets/sops/tampered.sls", tamper(good_sops))
        targets[host]["sops"] = ["secrets.sops.tampered"]
        tree.target.append("pillar does not compile")
    if broken:
        _break(tree, targets, required, defaults)
    if hostile:
        _plant_by_value(tree, targets)
    _write(pillar / "secrets/provider.yaml", yaml.safe_dump(
        {"provider": "dual", "targets": targets, "required": required}))
    _write(pillar / "defaults.sls", yaml.safe_dump(defaults))
    return tree


def _break(tree: Tree, targets: dict, required: list, defaults: dict) -> None:
    pillar, keys = tree.pillar, tree.keys
    good = sops_text({"secrets": {"values": {"other_password": CANARIES["db_password"]}}}, keys)
    _write(pillar / "secrets/sops/tampered.sls", tamper(good))
    _, stranger = make_age_identity()  # its identity is nowhere: the data key cannot be opened
    _write(pillar / "secrets/sops/undecryptable.sls", sopsfile().encrypt_data(
        {"secrets": {"values": {"x_token": CANARIES["api_token"]}}}, "yaml", age=[stranger]))
    _write(pillar / "secrets/sops/plain.sls", yaml.safe_dump({"secrets": {"values": {"x": PLAINTEXT}}}))
    with gnupg_home_at(pillar.parent / "other-gnupg", import_test_key=False) as other:
        fingerprint = make_pgp_key(other, "stranger")
        _write(pillar / "secrets/gpg/undecryptable.sls",
               gpg_file({"y_token": CANARIES["api_token"].encode()}, fingerprint, other.path))
    _write(pillar / "secrets/gpg/noshebang.sls", "secrets:\n  values: {}\n")
    targets[OTHER] = {"sops": ["secrets.sops.tampered", "secrets.sops.undecryptable", "secrets.sops.plain"],
                      "gpg": ["secrets.gpg.undecryptable", "secrets.gpg.noshebang", "secrets.gpg.absent"]}
    defaults["app"] = {"db_password": PLAINTEXT, "password_file": "/etc/app/db", "token_ttl": 300}
    defaults["core"]["secrets"]["files"]["absent"] = {"value": "absent_value"}
    defaults["deploy"]["profile"] = "bogus"
    required.append("missing_secret")
    keys.path.chmod(0o755)
    tree.local += [
        ("secrets/sops/tampered.sls", "authentication failed"),
        ("secrets/sops/undecryptable.sls", "no key here can decrypt the data key"),
        ("secrets/sops/plain.sls", "not a SOPS file"),
        ("secrets/sops/plain.sls", "secrets:values:x: looks like a plaintext secret"),
        ("secrets/gpg/undecryptable.sls", "secrets:values:y_token: GnuPG cannot decrypt it"),
        ("secrets/gpg/noshebang.sls", "first line is not #!yaml|gpg"),
        ("gpg SLS secrets.gpg.absent", "no such file"),
        ("defaults.sls", "app:db_password: looks like a plaintext secret"),
        (str(keys.path), "Salt's gpg_keydir has mode 0755, must be 0700"),
    ]
    tree.target += [
        f"secrets:values:missing_secret is missing {LISTED}",
        "secrets:values:absent_value is missing (core.secrets writes it to absent)",
        "deploy:profile is 'bogus'",
    ]


def _plant_by_value(tree: Tree, targets: dict) -> None:
    pillar = tree.pillar
    _write(pillar / "services.sls", yaml.safe_dump({
        "web": {"tls": {"bundle": VALUE_CANARIES["pem"]}},
        "root_pw": VALUE_CANARIES["token"],
        "backup": {"target": VALUE_CANARIES["url"]},
        "app": {"public_key": VALUE_CANARIES["allowed"]},
        "certs": {"web": {"chain": VALUE_CANARIES["chain"]}},
    }))
    _write(pillar / "secrets/plaintext-allow.yaml", yaml.safe_dump({"allow": [
        "app:public_key", {"key": "certs:*:chain", "why": "public CA chains"}]}))
    _write(pillar / "bomb.sls", alias_bomb())
    _write(pillar / "secrets/sops/bomb.sls", alias_bomb())
    _write(pillar / "secrets/gpg/bomb.sls", "#!yaml|gpg\n" + alias_bomb())
    targets["bombs-*"] = {"sops": ["secrets.sops.bomb"], "gpg": ["secrets.gpg.bomb"]}  # checked here only
    # each bomb: once by the plaintext scan, and once by the secrets file check of a listed one
    not_scanned = "not scanned: YAML aliases standing for over the limit"
    refused = "as an alias bomb would be"
    tree.local += [
        ("pillar/services.sls", "web:tls:bundle: looks like a PEM private key"),
        ("pillar/services.sls", "root_pw: high-entropy string ("),
        ("pillar/services.sls", "backup:target: looks like a URL with a password in it"),
        ("pillar/bomb.sls", not_scanned),
        ("secrets/sops/bomb.sls", not_scanned),
        ("secrets/sops/bomb.sls", refused),
        ("secrets/gpg/bomb.sls", not_scanned),
        ("secrets/gpg/bomb.sls", refused),
    ]


def operator_env(tree: Tree, temp: Path, **extra: str) -> dict[str, str]:
    """This process's environment with GnuPG/age seeing exactly the tree's keys (sopskeys.key_env),
    TMPDIR at *temp* (where salt-ssh packs a state bundle before sending it) and *extra*."""
    env = dict(os.environ)
    for name, value in {**key_env(tree.keys), "TMPDIR": str(temp), **extra}.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env
