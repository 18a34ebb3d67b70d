"""Canary secrets carried through the GPG pillar and the SOPS pillar (dual provider) into
core.secrets on a real lab host: written where they belong, and found nowhere else: not in the
state output, not in debug-level logs, not in returner artifacts, not in Salt's caches on either
side, not in the host's journal."""

import json
import shutil
import subprocess
import uuid

import pytest
import salt.utils.yaml

from dsu.lab import hosts as lab
from dsu.lab.roster import roster_path
from dsu.runs import salt_ssh, summarize_states
from dsu.secrets import sopsfile
from dsu.secrets.files import gpg_encrypt_value
from tests.conftest import REPO
from tests.integration.conftest import on_host
from tests.support.sopskeys import TEST_KEY_FP, gnupg_home_at

CANARY_GPG = f"canary-gpg-{uuid.uuid4().hex}"
CANARY_SOPS = f"canary-sops-{uuid.uuid4().hex}"
FILES = {"gpg-canary": {"value": "gpg_canary"}, "sops-canary": {"value": "sops_canary"}}


@pytest.fixture(scope="module")
def operator(tmp_path_factory):
    """A salt-ssh config of its own (caches, logs at debug level, artifacts in a temp root) over a
    pillar tree with one GPG and one SOPS secrets file, provider dual."""
    root = tmp_path_factory.mktemp("leak")
    with gnupg_home_at(root / "gnupg") as home:
        pillar = root / "pillar"
        shutil.copytree(REPO / "pillar", pillar)
        (pillar / "secrets" / "gpg").mkdir()
        (pillar / "secrets" / "sops").mkdir()
        armored = gpg_encrypt_value(CANARY_GPG.encode(), [TEST_KEY_FP], str(home.path))
        block = "\n".join("        " + line for line in armored.strip().splitlines())
        (pillar / "secrets/gpg/common.sls").write_text(
            f"#!yaml|gpg\nsecrets:\n  values:\n    gpg_canary: |\n{block}\n")
        (pillar / "secrets/sops/common.sls").write_text(sopsfile().encrypt_data(
            {"secrets": {"values": {"sops_canary": CANARY_SOPS}}}, "yaml", pgp=[TEST_KEY_FP],
            gnupg_home=str(home.path)))
        (pillar / "secrets/provider.yaml").write_text(
            "provider: dual\ntargets:\n  '*':\n    gpg: [secrets.gpg.common]\n"
            "    sops: [secrets.sops.common]\nrequired: [gpg_canary, sops_canary]\n")
        config = salt.utils.yaml.safe_load((REPO / "etc/salt/master").read_text())
        config.update(root_dir=str(root / "salt-root"), pillar_roots={"base": [str(pillar)]},
                      gpg_keydir=str(home.path), log_level_logfile="debug",
                      log_file=str(root / "salt-root/master.log"),
                      **{"health_json.base": str(root / "artifacts")})
        (root / "etc").mkdir()
        (root / "etc/master").write_text(salt.utils.yaml.safe_dump(config))
        yield root


def _run(host, root, *args, wipe=False):
    run = salt_ssh([host.name], *args, roster=roster_path(lab.lab_dir()), config_dir=root / "etc",
                   log_level="debug", wipe=wipe)
    return run, run.returns.get(host.name)


def _found_under(path, *needles):
    proc = subprocess.run(["grep", "-r", "-a", "-l", "-F", *[f"-e{n}" for n in needles], str(path)],
                          capture_output=True, text=True)
    return proc.stdout.split()


def test_canaries_reach_their_files_and_nothing_else(fresh_host, operator):
    host = fresh_host()
    pillar = json.dumps({"core": {"secrets": {"files": FILES}},
                         "health_check": {"use_defaults": False, "units": {"ssh.service": {}}}})
    outputs = []
    runs = [("state.apply", "core.secrets", f"pillar={pillar}"),
            ("state.apply", "ops.health_check", f"pillar={pillar}"),
            ("pillar.items",),
            # Last, as in `dsu deploy`: the test=True re-check that wipes salt-ssh's working
            # directory, whose state bundle (salt_state.tgz) carries the decrypted pillar.
            ("state.apply", "core.secrets", "test=True", f"pillar={pillar}")]
    for index, args in enumerate(runs):
        run, ret = _run(host, operator, *args, wipe=index == len(runs) - 1)
        outputs.append((args[0], run.stderr, json.dumps(ret)))
        if args[0] == "state.apply":
            summary = summarize_states(ret)
            assert summary.success, (summary.errors, summary.failed_states,
                                     [line for line in run.stderr.splitlines() if "ERROR" in line])

    # The secrets arrived, from both providers, where core.secrets puts them.
    directory = "/etc/deploy-system/secrets"
    assert on_host(host, f"cat {directory}/gpg-canary") == CANARY_GPG
    assert on_host(host, f"cat {directory}/sops-canary") == CANARY_SOPS

    leaks = []
    for what, stderr, stdout in outputs:
        # pillar.items prints pillar because it is asked to; its job cache entry must not keep it.
        streams = [("stderr (debug log)", stderr)] + ([] if what == "pillar.items" else
                                                      [("stdout", stdout)])
        leaks += [f"{what} {stream}" for stream, text in streams
                  if CANARY_GPG in text or CANARY_SOPS in text]
    leaks += [f"operator side: {p}" for p in _found_under(operator / "salt-root", CANARY_GPG,
                                                          CANARY_SOPS)]
    leaks += [f"operator side: {p}" for p in _found_under(operator / "artifacts", CANARY_GPG,
                                                          CANARY_SOPS)]
    leaks += [f"operator side: {p}" for p in _found_under(REPO / ".salt-root", CANARY_GPG,
                                                          CANARY_SOPS)]
    places = "/var/tmp /var/cache /var/log /var/lib /tmp /root /run"
    host_search = (f"grep -r -a -l -F -e {CANARY_GPG} -e {CANARY_SOPS} {places} 2>/dev/null; "
                   # compressed bundles too (grep -a does not see inside gzip)
                   f"find {places} -name '*.gz' -o -name '*.tgz' 2>/dev/null | xargs -r zgrep -a -l "
                   f"-F -e {CANARY_GPG} -e {CANARY_SOPS} 2>/dev/null; "
                   f"journalctl --no-pager -o verbose | grep -c -F -e {CANARY_GPG} -e {CANARY_SOPS}; true")
    found = on_host(host, host_search).split()
    journal_hits = found.pop() if found else "0"
    leaks += [f"lab host: {p}" for p in found]
    if journal_hits != "0":
        leaks.append(f"lab host journal: {journal_hits} lines")
    assert not leaks, f"canary found in: {leaks}"
