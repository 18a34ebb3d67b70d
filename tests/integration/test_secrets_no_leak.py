"""Canary secrets carried through the GPG pillar and the SOPS pillar (dual provider) into
core.secrets on a real lab host: written where they belong, and found nowhere else: not in the
state output, not in debug-level logs, not in returner artifacts, not in Salt's caches or
salt-ssh's temp files on the operator's side, in no file the runs wrote anywhere on the host (salt-ssh's state
bundles included), not in the host's journal."""

import json
import uuid

import pytest

from dsu.lab import hosts as lab
from dsu.lab.roster import roster_path
from dsu.privatetmp import private_tmpdir
from dsu.runs import summarize_states
from dsu.saltssh import salt_ssh
from tests.conftest import REPO
from tests.integration.conftest import on_host
from tests.support.leaks import canary_config, host_leaks, operator_leaks, stamp
from tests.support.sopskeys import gnupg_home_at

CANARY_GPG = f"canary-gpg-{uuid.uuid4().hex}"
CANARY_SOPS = f"canary-sops-{uuid.uuid4().hex}"
FILES = {"gpg-canary": {"value": "gpg_canary"}, "sops-canary": {"value": "sops_canary"}}


@pytest.fixture(scope="module")
def operator(tmp_path_factory):
    """A salt-ssh config of its own (caches, logs at debug level, artifacts in a temp root) over a
    pillar tree with one GPG and one SOPS secrets file, provider dual."""
    root = tmp_path_factory.mktemp("leak")
    with gnupg_home_at(root / "gnupg") as home:
        canary_config(root, home.path, {"gpg": CANARY_GPG, "sops": CANARY_SOPS})
        yield root


def _run(host, root, *args, wipe=False):
    run = salt_ssh([host.name], *args, roster=roster_path(lab.lab_dir()), config_dir=root / "etc",
                   log_level="debug", wipe=wipe)
    return run, run.returns.get(host.name)


def test_canaries_reach_their_files_and_nothing_else(fresh_host, operator, tmp_path):
    host = fresh_host()
    since = stamp(host)
    pillar = json.dumps({"core": {"secrets": {"files": FILES}},
                         "health_check": {"use_defaults": False, "profile_checks": False,
                                          "units": {"ssh.service": {}}}})
    outputs = []
    # Every state run wipes salt-ssh's working directory on the host when it ends, as dsu's
    # do: its state bundle (salt_state.tgz) carries the decrypted pillar.
    runs = [("state.apply", "core.secrets", f"pillar={pillar}"),
            ("state.apply", "ops.health_check", f"pillar={pillar}"),
            ("pillar.items",),
            ("state.apply", "core.secrets", "test=True", f"pillar={pillar}")]
    with private_tmpdir(tmp_path / "tmp") as tmp:
        for args in runs:
            run, ret = _run(host, operator, *args, wipe=args[0] == "state.apply")
            outputs.append((args[0], run.stderr, json.dumps(ret)))
            if args[0] == "state.apply":
                summary = summarize_states(ret)
                assert summary.success, (summary.errors, summary.failed_states,
                                         [line for line in run.stderr.splitlines() if "ERROR" in line])
        # salt-ssh's temp files here (the bundles before they are sent): gone once it answered
        leaks = [f"operator side: {p}" for p in operator_leaks([CANARY_GPG, CANARY_SOPS], tmp)]

    # The secrets arrived, from both providers, where core.secrets puts them.
    directory = "/etc/deploy-system/secrets"
    assert on_host(host, f"cat {directory}/gpg-canary") == CANARY_GPG
    assert on_host(host, f"cat {directory}/sops-canary") == CANARY_SOPS

    for what, stderr, stdout in outputs:
        # pillar.items prints pillar because it is asked to; its job cache entry must not keep it.
        streams = [("stderr (debug log)", stderr)] + ([] if what == "pillar.items" else
                                                      [("stdout", stdout)])
        leaks += [f"{what} {stream}" for stream, text in streams
                  if CANARY_GPG in text or CANARY_SOPS in text]
    leaks += [f"operator side: {p}" for p in operator_leaks(
        [CANARY_GPG, CANARY_SOPS], operator / "salt-root", operator / "artifacts", REPO / ".salt-root")]
    # The whole host: every file written since the stamp (but the two core.secrets wrote), gzip
    # files looked into, salt-ssh's state bundles by name, the journal.
    written = {f"{directory}/gpg-canary", f"{directory}/sops-canary"}
    leaks += [f"lab host: {p}" for p in host_leaks(host, [CANARY_GPG, CANARY_SOPS], since)
              if p not in written]
    assert not leaks, f"canary found in: {leaks}"
