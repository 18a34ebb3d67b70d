"""core.identity and core.secrets render from defaults and pillar; no secret value is ever
rendered into state data (the states get the pillar key, not the value)."""

import json

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
