"""The Salt configuration this checkout's salt-ssh runs with, read without Salt: the master config
(and ``master.d``), the pillar roots, and where the renderers find their keys. Relative paths are
read from the checkout's root, where ``dsu`` runs salt-ssh (dsu/saltssh.py)."""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dsu import yamlread
from dsu.errors import DsuError, one_line
from dsu.paths import REPO_ROOT
from dsu.saltext import utils_module


def absolute(value: str | os.PathLike) -> Path:
    """A path from Salt's config as Salt resolves it: ``~`` expanded, relative to the checkout."""
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
        """The age identities the sops renderer uses: those of ``sops_age_key_file`` when it is
        configured ([] when it cannot be read), else None: as sops finds them."""
        configured = self.master.get("sops_age_key_file")
        if not configured:
            return None
        try:
            return utils_module("sopsfile").age_identities(str(absolute(configured)))
        except OSError:
            return []


def read_master(config_dir: Path) -> dict[str, Any]:
    """``<config_dir>/master`` and its ``master.d/*.conf`` (Salt's default_include), merged."""
    files = [config_dir / "master", *sorted((config_dir / "master.d").glob("*.conf"))]
    merged: dict[str, Any] = {}
    for path in files:
        try:
            data = yamlread.load_file(path) or {}
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
    config_dir = absolute(config_dir or Path("etc/salt"))
    master = read_master(config_dir)
    if pillar_root is not None:
        if not pillar_root.is_dir():
            raise DsuError(f"--pillar-root {pillar_root} is not a directory")
        roots = [pillar_root.resolve()]
    else:
        roots = [absolute(r) for r in ((master.get("pillar_roots") or {}).get("base") or [])]
        if not roots:
            raise DsuError(f"{config_dir}/master has no pillar_roots:base")
    lib = utils_module("sopsfile")  # the sops renderer's own key-source rules
    # Salt's gpg renderer: gpg_keydir, by default <config_dir>/gpgkeys
    keydir = absolute(master.get("gpg_keydir") or config_dir / "gpgkeys")
    sops_home = lib.gnupg_home(master.get("sops_gnupghome"), str(keydir))
    age_files = [(what, absolute(path)) for what, path in
                 lib.age_key_file_candidates(master.get("sops_age_key_file"))]
    return Setup(config_dir, master, roots, keydir, absolute(sops_home), age_files)


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
