"""core.identity and core.secrets render from defaults and pillar; no secret value is ever
rendered into state data (the states get the pillar key, not the value)."""

import json

import pytest

from tests.support.states import state_args

CANARY = "canary-render-91b2d0"
PILLAR = f"""
secrets:
  values:
    db: {CANARY}
core:
  secrets:
    files:
      db-password: {{value: db}}
      app.env: {{value: db, mode: '0640', group: root}}
"""


def test_identity_defaults(render_sls):
    states = render_sls("core.identity")
    args = state_args(states, "core-identity-host-id-present", "host_identity.present")
    assert args["name"] == "/etc/deploy-system/host-id" and args["mode"] == "0644"


def test_identity_file_from_pillar(render_sls):
    states = render_sls("core.identity", "core: {identity: {file: /etc/machine-uuid}}\n")
    assert state_args(states, "core-identity-host-id-present",
                 "host_identity.present")["name"] == "/etc/machine-uuid"


def test_secrets_on_disk_by_default_with_no_files(render_sls):
    states = render_sls("core.secrets")
    assert set(states) == {"core-secrets-directory"}
    args = state_args(states, "core-secrets-directory", "file.directory")
    assert args["name"] == "/etc/deploy-system/secrets" and args["mode"] == "0700"


def test_secret_files_get_the_pillar_key_never_the_value(render_sls):
    states = render_sls("core.secrets", PILLAR)
    assert CANARY not in json.dumps(states)
    db = state_args(states, "core-secrets-file-db-password", "secret_file.present")
    db.pop("order", None)
    assert db == {"name": "/etc/deploy-system/secrets/db-password",
                  "value_key": "secrets:values:db", "mode": "0600", "user": "root",
                  "group": "root", "require": [{"file": "core-secrets-directory"}]}
    assert state_args(states, "core-secrets-file-app.env", "secret_file.present")["mode"] == "0640"


def test_tmpfs_variant_mounts_with_hardened_options(render_sls):
    states = render_sls("core.secrets", PILLAR + "    tmpfs: True\n")
    mount = state_args(states, "core-secrets-tmpfs-mounted", "mount.mounted")
    assert mount["name"] == "/run/secrets/deploy-system" and mount["fstype"] == "tmpfs"
    # mode=0700 is written as the kernel reports it (mode=700), so re-runs do not remount.
    assert {"mode=700", "nosuid", "nodev", "noexec"} <= set(mount["opts"])
    assert state_args(states, "core-secrets-file-db-password",
                 "secret_file.present")["name"] == "/run/secrets/deploy-system/db-password"


def _refused(refused_render, sls, pillar, problems):
    """The render of *sls* refused by its role's contract, naming each problem's pillar key."""
    message = refused_render(sls, pillar, contract=sls.replace(".", "/"))
    assert f"{len(problems)} parameter(s) break" in message, message
    for problem in problems:
        assert problem in message, (problem, message)
    return message


@pytest.mark.parametrize(("pillar", "problems"), [
    # unquoted, 0644 is an integer (Salt's YAML reads it as 644)
    ("{mode: 0644}", ["core:identity:mode: is 644, must be a quoted octal file mode"]),
    ("{file: etc/host-id, user: 'root\\n'}",
     ["core:identity:file: is 'etc/host-id', must be an absolute path",
      "core:identity:user: is 'root\\\\n'"]),
    ("{owner: root}", ["core:identity:owner: is not a known key here"]),
])
def test_identity_bad_pillar_refuses_the_render(refused_render, pillar, problems):
    _refused(refused_render, "core.identity", f"core: {{identity: {pillar}}}\n", problems)


@pytest.mark.parametrize(("files", "problems"), [
    ("{../../etc/shadow: {value: db}}",
     ["core:secrets:files:../../etc/shadow: the key is '../../etc/shadow', must be a plain file name"]),
    ("{db-password: {value: db, mode: 0600}}",
     ["core:secrets:files:db-password:mode: is 600, must be a quoted octal file mode"]),
    ("{db-password: {mode: '0600'}, api: {value: 'api:token', owner: root}}",
     ["core:secrets:files:db-password:value: is missing or empty",
      "core:secrets:files:api:value: is 'api:token', must be a name",
      "core:secrets:files:api:owner: is not a known key here"]),
])
def test_secrets_bad_pillar_refuses_the_render_without_showing_a_value(refused_render, files, problems):
    pillar = f"secrets:\n  values:\n    db: {CANARY}\ncore:\n  secrets:\n    files: {files}\n"
    message = _refused(refused_render, "core.secrets", pillar, problems)
    assert CANARY not in message
