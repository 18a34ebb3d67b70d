"""Encrypted pillar compiled in-process by Salt's own pillar code with this repo's pillar/top.sls:
the provider switch, the GPG pillar (Salt's gpg renderer), the SOPS pillar (the sops renderer at
the end of the pipeline) with files written by the real sops, and failures that stop the pillar
instead of leaving it partial. Nothing is applied."""

import shutil
import tempfile
from pathlib import Path

import pytest
import salt.pillar
import salt.utils.yaml

from dsu import saltconfig
from dsu.secrets import checks, sopsfile
from dsu.secrets.files import gpg_encrypt_value
from tests.conftest import REPO
from tests.support.sopskeys import TEST_KEY_FP, gnupg_home_at, run_sops

GPG_VALUE = "gpg-secret-value"
SOPS_VALUE = "sops-secret-value"


@pytest.fixture
def tree(tmp_path, minion_opts, gnupg_home):
    pillar = tmp_path / "pillar-tree"
    shutil.copytree(REPO / "pillar", pillar)
    (pillar / "secrets/gpg").mkdir()
    (pillar / "secrets/sops").mkdir()
    minion_opts.update(pillar_roots={"base": [str(pillar)]}, renderer="jinja|yaml|sops",
                       render_dirs=[str(REPO / "_renderers")], gpg_keydir=str(gnupg_home.path),
                       gpg_decrypt_must_succeed=True)
    return pillar


def _gpg_file(tree, gnupg_home, values):
    lines = ["#!yaml|gpg", "secrets:", "  values:"]
    for key, value in values.items():
        armored = gpg_encrypt_value(value.encode(), [TEST_KEY_FP], str(gnupg_home.path))
        lines += [f"    {key}: |"] + ["      " + line for line in armored.strip().splitlines()]
    (tree / "secrets/gpg/common.sls").write_text("\n".join(lines) + "\n")


def _sops_file_by_real_sops(tree, gnupg_home, values, fmt="yaml"):
    plain = tree / f"plain.{fmt}"
    plain.write_text(sopsfile().dump({"secrets": {"values": values}}, fmt))
    done = run_sops("--encrypt", "--pgp", TEST_KEY_FP, "--input-type", fmt, "--output-type", fmt,
                    plain, env={"GNUPGHOME": str(gnupg_home.path)})
    plain.unlink()
    (tree / "secrets/sops/common.sls").write_text(done.stdout)


def _provider(tree, provider):
    (tree / "secrets/provider.yaml").write_text(
        f"provider: {provider}\ntargets:\n  '*':\n    gpg: [secrets.gpg.common]\n"
        "    sops: [secrets.sops.common]\nrequired: [db_password]\n")


def _compile(minion_opts):
    opts = dict(minion_opts)
    return salt.pillar.get_pillar(opts, opts["grains"], opts["id"], "base").compile_pillar()


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_sops_pillar_written_by_the_real_sops(tree, gnupg_home, minion_opts, fmt):
    _sops_file_by_real_sops(tree, gnupg_home, {"db_password": SOPS_VALUE, "port": 5432}, fmt)
    _provider(tree, "sops")
    pillar = _compile(minion_opts)
    assert "_errors" not in pillar, pillar.get("_errors")
    assert pillar["secrets"]["values"] == {"db_password": SOPS_VALUE, "port": 5432}
    assert pillar["secrets"]["provider"] == "sops" and "sops" not in pillar


def test_provider_selects_the_files_and_dual_lets_gpg_win(tree, gnupg_home, minion_opts):
    _gpg_file(tree, gnupg_home, {"db_password": GPG_VALUE, "legacy_only": "l"})
    _sops_file_by_real_sops(tree, gnupg_home, {"db_password": SOPS_VALUE, "new_only": "n"})
    _provider(tree, "gpg")
    assert _compile(minion_opts)["secrets"]["values"] == {"db_password": GPG_VALUE,
                                                          "legacy_only": "l"}
    _provider(tree, "dual")
    assert _compile(minion_opts)["secrets"]["values"] == {"db_password": GPG_VALUE,
                                                          "legacy_only": "l", "new_only": "n"}
    _provider(tree, "sops")
    assert _compile(minion_opts)["secrets"]["values"] == {"db_password": SOPS_VALUE,
                                                          "new_only": "n"}
    _provider(tree, "vault")
    assert any("provider must be gpg, dual or sops" in e
               for e in _compile(minion_opts)["_errors"])


def _errors(minion_opts, caplog):
    """The pillar's errors plus the render errors logged with them (Salt's pillar _errors only
    say which SLS failed; the reason goes to the log)."""
    caplog.clear()
    pillar = _compile(minion_opts)
    assert pillar.get("_errors"), "the pillar compiled although a secrets file is broken"
    assert SOPS_VALUE not in str(pillar) and GPG_VALUE not in str(pillar)
    assert SOPS_VALUE not in caplog.text and GPG_VALUE not in caplog.text
    return " ".join(pillar["_errors"]) + caplog.text


def test_tampered_or_undecryptable_sops_pillar_fails_the_pillar(tree, gnupg_home, empty_gnupg_home,
                                                                minion_opts, caplog):
    _sops_file_by_real_sops(tree, gnupg_home, {"db_password": SOPS_VALUE, "note_unencrypted": "x"})
    _provider(tree, "sops")
    sls = tree / "secrets/sops/common.sls"
    original = sls.read_text()
    sls.write_text(original.replace("note_unencrypted: x", "note_unencrypted: y"))
    message = _errors(minion_opts, caplog)
    assert "MAC mismatch" in message and "secrets.sops.common" in message
    sls.write_text(original)
    minion_opts["gpg_keydir"] = str(empty_gnupg_home.path)
    message = _errors(minion_opts, caplog)
    assert "secrets.sops.common" in message and "no key here can decrypt" in message


def test_undecryptable_gpg_pillar_fails_the_pillar(tree, gnupg_home, empty_gnupg_home, minion_opts,
                                                   caplog):
    _gpg_file(tree, gnupg_home, {"db_password": GPG_VALUE})
    _provider(tree, "gpg")
    minion_opts["gpg_keydir"] = str(empty_gnupg_home.path)
    assert "secrets.gpg.common" in _errors(minion_opts, caplog)


@pytest.fixture
def short_tmp():
    """A directory with a short path: GnuPG puts its agent's sockets in the home, and a socket path
    has at most 108 bytes (under xdist, pytest's tmp_path of a long test name is too long)."""
    path = Path(tempfile.mkdtemp(prefix="dsu-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _layout(tmp_path, monkeypatch, minion_opts, empty_gnupg_home, where):
    """A Salt config dir whose master sets no gpg_keydir, and the test key in <config>/gpgkeys.
    *where* then moves the SOPS renderer's home elsewhere: sops_gnupghome or GNUPGHOME pointing
    at a home without keys, or nothing ("config"), leaving both renderers on <config>/gpgkeys."""
    config = tmp_path / "config"
    master = {"pillar_roots": minion_opts["pillar_roots"], "renderer": "jinja|yaml|sops"}
    monkeypatch.delenv("GNUPGHOME", raising=False)
    if where == "sops_gnupghome":
        master["sops_gnupghome"] = str(empty_gnupg_home.path)
    elif where == "GNUPGHOME":
        monkeypatch.setenv("GNUPGHOME", str(empty_gnupg_home.path))
    config.mkdir()
    (config / "master").write_text(salt.utils.yaml.safe_dump(master))
    del minion_opts["gpg_keydir"]  # Salt's gpg renderer: then <config_dir>/gpgkeys
    minion_opts.update(config_dir=str(config), sops_gnupghome=master.get("sops_gnupghome"))
    return config


@pytest.mark.parametrize("where", ["config", "sops_gnupghome", "GNUPGHOME"])
def test_keys_in_the_config_dir_serve_both_renderers_and_preflight_agrees(
        tree, gnupg_home, empty_gnupg_home, minion_opts, monkeypatch, short_tmp, caplog, where):
    """Salt's gpg renderer finds its keys in <config_dir>/gpgkeys when gpg_keydir is not set; the
    SOPS renderer must find them there too (it found none: "no key here can decrypt the data
    key"). Wherever the keys are, preflight's local checks say what the pillar compile says."""
    _gpg_file(tree, gnupg_home, {"db_password": GPG_VALUE})
    _sops_file_by_real_sops(tree, gnupg_home, {"api_token": SOPS_VALUE})
    _provider(tree, "dual")
    config = _layout(short_tmp, monkeypatch, minion_opts, empty_gnupg_home, where)
    with gnupg_home_at(config / "gpgkeys"):
        local, _ = checks.check_secrets_files(saltconfig.setup(config))
        if where == "config":
            assert local == []
            pillar = _compile(minion_opts)
            assert "_errors" not in pillar, pillar.get("_errors")
            assert pillar["secrets"]["values"] == {"db_password": GPG_VALUE, "api_token": SOPS_VALUE}
        else:
            assert [(Path(p.where).parent.name, Path(p.where).name) for p in local] == [
                ("sops", "common.sls")]
            assert local[0].what.startswith(f"no key here can decrypt the data key (pgp {TEST_KEY_FP}")
            caplog.clear()
            errors = _compile(minion_opts).get("_errors")
            # the GPG file still decrypts: only the SOPS file stops the pillar, as preflight said
            assert errors == ["Rendering SLS 'secrets.sops.common' failed. Please see master log "
                              "for details."]
            assert "no key here can decrypt the data key" in caplog.text
