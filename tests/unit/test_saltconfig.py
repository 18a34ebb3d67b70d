"""The Salt config salt-ssh will use, read without Salt."""

from pathlib import Path

import pytest
import yaml

from dsu import saltconfig
from dsu.errors import DsuError


def test_setup_reads_the_effective_salt_config(tmp_path, monkeypatch):
    config = tmp_path / "salt"
    (config / "master.d").mkdir(parents=True)
    (config / "master").write_text("pillar_roots:\n  base: [pillar]\nroot_dir: .salt-root\n")
    (config / "master.d" / "keys.conf").write_text("sops_gnupghome: /srv/sops-gnupg\n")
    monkeypatch.delenv("GNUPGHOME", raising=False)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(tmp_path / "age.txt"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    conf = saltconfig.setup(config)
    assert conf.pillar_roots == [saltconfig.REPO_ROOT / "pillar"]  # relative: from the checkout
    assert conf.gpg_keydir == config / "gpgkeys"  # Salt's default: <config_dir>/gpgkeys
    assert conf.sops_gnupghome == Path("/srv/sops-gnupg")
    assert conf.age_key_files == [("SOPS_AGE_KEY_FILE", tmp_path / "age.txt"),
                                  ("age key file", tmp_path / "xdg/sops/age/keys.txt")]
    with pytest.raises(DsuError, match="no Salt master config"):
        saltconfig.setup(tmp_path)
    with pytest.raises(DsuError, match="is not a directory"):
        saltconfig.setup(config, tmp_path / "absent")


def test_pillar_root_gets_a_temporary_config_with_the_same_gpg_keydir(tmp_path):
    config = tmp_path / "salt"
    config.mkdir()
    (config / "master").write_text("pillar_roots:\n  base: [pillar]\nrenderer: jinja|yaml|sops\n")
    pillar = tmp_path / "pillar"
    pillar.mkdir()
    conf = saltconfig.setup(config, pillar)
    with saltconfig.salt_config_dir(conf, pillar) as temporary:
        master = yaml.safe_load((temporary / "master").read_text())
        assert master == {"pillar_roots": {"base": [str(pillar)]}, "renderer": "jinja|yaml|sops",
                          "gpg_keydir": str(config / "gpgkeys")}
    assert not temporary.exists()
    with saltconfig.salt_config_dir(conf, None) as same:
        assert same == config
