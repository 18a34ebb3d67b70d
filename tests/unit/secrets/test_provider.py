"""The provider.yaml model: its shape problems, and SLS files found as Salt finds them."""

import yaml

from dsu.secrets import provider


def test_find_sls_as_salt_does(tmp_path):
    (tmp_path / "secrets/gpg/team").mkdir(parents=True)
    (tmp_path / "secrets/gpg/common.sls").write_text("{}")
    (tmp_path / "secrets/gpg/team/init.sls").write_text("{}")
    assert provider.find_sls([tmp_path], "secrets.gpg.common") == tmp_path / "secrets/gpg/common.sls"
    assert provider.find_sls([tmp_path], "secrets.gpg.team") == tmp_path / "secrets/gpg/team/init.sls"
    assert provider.find_sls([tmp_path], "secrets.gpg.none") is None


def test_provider_shape_problems(tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets/provider.yaml").write_text(yaml.safe_dump(
        {"provider": "vault", "targets": {"web*": {"gpg": "secrets.gpg.web", "kms": []}, "db": []},
         "required": "db_password"}))
    config = provider.read([tmp_path])
    assert config.files() == []
    assert [p.what for p in config.problems] == [
        "provider must be one of gpg, dual, sops", "required must be a list of secret names",
        "targets:db must be a mapping {gpg: [SLS, ...], sops: [SLS, ...]}",
        "targets:web*:gpg must be a list of SLS names", "targets:web*:kms: unknown kind (gpg or sops)"]
    assert [p.what for p in provider.read([tmp_path / "absent"]).problems] == \
        ["missing: pillar/top.sls imports it"]
