"""`dsu secrets` as an operator runs it: JSON on stdout, a one-line reason and a non-zero exit on
failure, GPG pillar values for the recipients .sops.yaml configures."""

import json
import os
import subprocess
import sys

import gnupg

from tests.support.sopskeys import TEST_KEY_FP, fixtures_dir, key_env


def _dsu(*args, env, cwd=None, stdin=None):
    full = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    return subprocess.run([sys.executable, "-m", "dsu", "secrets", *args], env=full, cwd=cwd,
                          input=stdin, capture_output=True, text=True)


def test_decrypt_prints_json_or_one_line_reason(gnupg_home):
    env = key_env(gnupg_home)
    done = _dsu("decrypt", str(fixtures_dir() / "format.enc.json"), env=env)
    assert done.returncode == 0 and json.loads(done.stdout) == {"foo": "bar"}
    refused = _dsu("decrypt", str(fixtures_dir() / "plainfile.yaml"), env=env)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "not a SOPS file" in refused.stderr


def test_gpg_value_for_the_configured_recipients(gnupg_home, tmp_path):
    (tmp_path / ".sops.yaml").write_text(
        f"creation_rules:\n  - path_regex: ^pillar/secrets/.*\\.sls$\n    pgp: {TEST_KEY_FP}\n")
    done = _dsu("gpg-encrypt", "--strip-newline", env=key_env(gnupg_home), cwd=tmp_path,
                stdin="s3cret-value\n")
    assert done.returncode == 0 and done.stdout.startswith("-----BEGIN PGP MESSAGE-----")
    assert "s3cret-value" not in done.stdout + done.stderr
    plain = gnupg.GPG(gnupghome=str(gnupg_home.path)).decrypt(done.stdout)
    assert plain.ok and plain.data == b"s3cret-value"
