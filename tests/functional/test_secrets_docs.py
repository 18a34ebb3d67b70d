"""The operator docs docs/deployment/SOPS_MIGRATION_GUIDE.md and SOPS_KEY_ROTATION_SOP.md run for real.

Every line of their ```sh blocks is executed in order, with bash, in a sandbox checkout
(tests/support/secretsandbox.py) where `.venv` is this repo's venv; placeholders such as NEW_FP are
replaced by the sandbox's keys. What the prose tells the operator to do by hand between commands
(edit .sops.yaml, list a file in provider.yaml, paste a GPG block) is done by the hooks below, each
bound to the command it precedes or follows; every hook must fire, so docs and test cannot drift.
"""

import json
import re
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
import yaml

from dsu.cli import build_parser
from dsu.secrets import sopsfile
from tests.support.secretsandbox import (
    CANARY,
    GPG_SLS,
    REPO,
    SETTINGS,
    SOPS_SLS,
    VALUES,
    box_fixture,  # noqa: F401  (fixture box)
    export_public_key,
    export_secret_key,
    sops_config,
)
from tests.support.sopskeys import gnupg_home_at, make_age_identity, make_pgp_key

DOCS = REPO / "docs" / "deployment"
GUIDE, SOP = DOCS / "SOPS_MIGRATION_GUIDE.md", DOCS / "SOPS_KEY_ROTATION_SOP.md"
PROGRAMS = ("dsu", "sops", "gpg", "shred")
NEW_SECRET = "rotated-db-password-after-incident"


def sh_commands(doc: Path) -> list[str]:
    """Every non-comment line of the doc's ```sh blocks, in order."""
    blocks = re.findall(r"^[ \t]*```sh\n(.*?)^[ \t]*```", doc.read_text(), re.MULTILINE | re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def program(command: str) -> str:
    return shlex.split(command)[0].removeprefix(".venv/bin/")


@dataclass
class Hook:
    before: Callable[[], None] | None = None
    stdin: str | None = None
    after: Callable[[str], None] | None = None
    fired: bool = False


def run_doc(box, doc: Path, substitutions: dict[str, str], hooks: dict[tuple[str, int], Hook]) -> list:
    """Run the doc's commands in the sandbox; hooks keyed by (command as written, nth time)."""
    (box.root / ".venv").symlink_to(REPO / ".venv")
    seen: dict[str, int] = {}
    ran = []
    for written in sh_commands(doc):
        seen[written] = seen.get(written, 0) + 1
        hook = hooks.get((written, seen[written]), Hook())
        hook.fired = True
        command = written
        for placeholder, value in substitutions.items():
            command = command.replace(placeholder, value)
        if hook.before:
            hook.before()
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", command], cwd=box.root,
                              env=box.environ(), input=hook.stdin, capture_output=True, text=True,
                              timeout=120, check=False)
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{doc.name}: {written}\n{output}"
        assert CANARY not in output and NEW_SECRET not in output, written
        if hook.after:
            hook.after(done.stdout)
        ran.append((written, done.stdout))
    assert [key for key, hook in hooks.items() if not hook.fired] == []
    return ran


def test_docs_hold_only_commands_we_run_and_valid_dsu_mentions():
    for doc in (GUIDE, SOP):
        commands = sh_commands(doc)
        assert commands, doc
        assert {program(c) for c in commands} <= set(PROGRAMS), doc
        # Inline `dsu ...` in the prose must at least be a real command line.
        for mention in re.findall(r"`(?:\.venv/bin/)?dsu ([^`]+)`", doc.read_text()):
            try:
                build_parser().parse_args(shlex.split(mention.replace("<target>", "host")))
            except SystemExit:
                pytest.fail(f"{doc.name}: `dsu {mention}` is not a valid dsu command line")
    dsu_lines = {c for doc in (GUIDE, SOP) for c in sh_commands(doc) if program(c) == "dsu"}
    # The operations these docs exist for all appear.
    for needed in ("migrate --check", "migrate --dual", "migrate --apply", "migrate --rollback",
                   "rotate --all", "add-recipient --pgp", "add-recipient --age", "remove-recipient --pgp",
                   "remove-recipient --age"):
        assert any(f"secrets {needed}" in line for line in dsu_lines), needed


def test_migration_guide_runs_for_real(box, tmp_path, schema):
    # Start where the guide starts: GPG pillar only.
    box.sops_file.unlink()
    box.set_targets({"*": {"gpg": [GPG_SLS]}})
    shm = tmp_path / "shm"
    shm.mkdir(mode=0o700)
    plaintext = shm / "common.yaml"
    original = box.provider_file.read_text()
    gpg_bytes = box.gpg_file.read_bytes()

    def write_plaintext():
        plaintext.write_text(yaml.safe_dump({"secrets": {"values": VALUES, "settings": SETTINGS}}))

    hooks = {
        (".venv/bin/dsu secrets encrypt /dev/shm/common.yaml --output pillar/secrets/sops/common.sls", 1):
            Hook(before=write_plaintext),
        ("shred -u /dev/shm/common.yaml", 1): Hook(after=lambda _: assert_gone(plaintext)),
        (".venv/bin/dsu secrets migrate --check", 1):
            Hook(before=lambda: box.set_targets({"*": {"gpg": [GPG_SLS], "sops": [SOPS_SLS]}})),
        (".venv/bin/dsu secrets migrate --dual", 1): Hook(after=lambda _: expect(box.provider, "dual")),
        (".venv/bin/dsu secrets migrate --apply", 1): Hook(after=lambda _: expect(box.provider, "sops")),
        (".venv/bin/dsu secrets migrate --rollback", 1): Hook(after=lambda _: expect(box.provider, "gpg")),
    }
    ran = run_doc(box, GUIDE, {"/dev/shm/common.yaml": str(plaintext)}, hooks)
    assert [c for c, out in ran if "all cutover criteria hold" in out] == [
        ".venv/bin/dsu secrets migrate --check"] * 2
    with box.keys():
        assert sopsfile().decrypt_file(str(box.sops_file)) == {"secrets": {"values": VALUES,
                                                                           "settings": SETTINGS}}
    assert box.sops_file.stat().st_mode & 0o777 == 0o600
    assert box.gpg_file.read_bytes() == gpg_bytes
    comments = [line for line in original.splitlines() if line.startswith("#")]
    assert comments and comments == [line for line in box.provider_file.read_text().splitlines()
                                     if line.startswith("#")]
    for line in box.audit_log.read_text().splitlines():
        jsonschema.validate(json.loads(line), schema("secrets-audit.v1.json"))


def expect(got, wanted):
    assert got == wanted


def assert_gone(path):
    assert not path.exists()


def test_rotation_sop_runs_for_real(box, tmp_path, schema):
    with (gnupg_home_at(tmp_path / "newcomer", import_test_key=False) as newcomer,
          gnupg_home_at(tmp_path / "thief", import_test_key=False) as thief):
        new_fp = make_pgp_key(newcomer, "newcomer")
        new_id, new_age = make_age_identity()
        public = tmp_path / "new-operator.asc"
        public.write_text(export_public_key(newcomer, new_fp))
        export_secret_key(box.home, box.operator_fp, thief)  # the compromised operator key
        master, operator, age = box.master_fp, box.operator_fp, box.age_recipient

        def operators(*pgp, ages=(age,)):
            # What the operator does by hand: the creation rule, and the GPG values re-encrypted.
            def edit():
                (box.root / ".sops.yaml").write_text(sops_config(list(pgp), list(ages)))
            return edit

        def gpg_for(*pgp):
            return lambda: box.write_gpg_file(VALUES, recipients=dict.fromkeys(VALUES, list(pgp)))

        def paste_new_block(armored):
            # Paste the new db_password block; the other values re-encrypted without the lost key.
            data = yaml.safe_load(box.gpg_file.read_text())
            with box.keys():
                data["secrets"]["values"] = {k: armored if k == "db_password" else box.gpg_armor(v, [master])
                                             for k, v in VALUES.items()}
            box.gpg_file.write_text("#!yaml|gpg\n" + yaml.safe_dump(data, sort_keys=False))

        check = ".venv/bin/dsu secrets migrate --check"
        hooks = {
            (".venv/bin/dsu secrets add-recipient --pgp NEW_FP --all", 1):
                Hook(before=operators(master, operator, new_fp, ages=(age, new_age))),
            (check, 2): Hook(before=gpg_for(master, operator, new_fp)),
            (".venv/bin/dsu secrets remove-recipient --pgp OLD_FP --all", 1):
                Hook(before=operators(master, operator)),
            (check, 3): Hook(before=gpg_for(master, operator)),
            (".venv/bin/dsu secrets remove-recipient --pgp COMPROMISED_FP --all", 1):
                Hook(before=operators(master)),
            ("sops set --input-type yaml --output-type yaml --value-stdin pillar/secrets/sops/common.sls "
             """'["secrets"]["values"]["db_password"]'""", 1): Hook(stdin=json.dumps(NEW_SECRET)),
            (".venv/bin/dsu secrets gpg-encrypt --strip-newline --recipient MASTER_FP", 1):
                Hook(stdin=NEW_SECRET + "\n", after=paste_new_block),
        }
        substitutions = {"NEW_FP": new_fp, "NEW_AGE": new_age, "OLD_FP": new_fp, "OLD_AGE": new_age,
                         "COMPROMISED_FP": operator, "MASTER_FP": master,
                         "new-operator.asc": str(public)}
        ran = run_doc(box, SOP, substitutions, hooks)

        checks = [out for command, out in ran if command == check]
        assert len(checks) == 4 and all("all cutover criteria hold" in out for out in checks)
        lib = sopsfile()
        # The compromised key opens no current file; the master's does, with the new value.
        with pytest.raises(lib.SopsError, match="no key here"):
            lib.decrypt_file(str(box.sops_file), gnupg_home=str(thief.path), age_identities=[])
        with box.keys():
            assert lib.decrypt_file(str(box.sops_file))["secrets"]["values"] == {**VALUES,
                                                                                 "db_password": NEW_SECRET}
    entries = [json.loads(line) for line in box.audit_log.read_text().splitlines()]
    for entry in entries:
        jsonschema.validate(entry, schema("secrets-audit.v1.json"))
    assert [e["action"] for e in entries] == ["rotate", "rotate", "add-recipient", "add-recipient",
                                             "remove-recipient", "remove-recipient", "remove-recipient",
                                             "rotate"]
    assert entries[6]["recipient"] == {"pgp": operator}
    assert operator not in json.dumps(entries[6]["files"][0]["recipients_after"])
