"""core.identity on a fresh Debian 12 host: one UUID generated, persisted, never regenerated;
an identity file that is not a UUID fails the state and is left untouched."""

import re
import uuid

from dsu.lab import hosts as lab
from dsu.lab.roster import roster_path
from tests.integration.conftest import apply_and_summarize, converge, on_host

ID_FILE = "/etc/deploy-system/host-id"


def test_identity_generated_once_and_kept(fresh_host):
    host = fresh_host()
    result = converge(host, "core.identity")
    (generated,) = result.first.changed_states
    announced = re.search(r"generated host identity (\S+)", generated.comment).group(1)

    identity = on_host(host, f"cat {ID_FILE}").strip()
    assert identity == announced, "the test=True rerun or the re-apply replaced the identity"
    assert uuid.UUID(identity).version == 4
    assert on_host(host, f"stat -c '%a %U %G' {ID_FILE}").split() == ["644", "root", "root"]

    again = apply_and_summarize(host, roster_path(lab.lab_dir()), "core.identity")
    assert again.success and again.changed == 0
    assert on_host(host, f"cat {ID_FILE}").strip() == identity


def test_corrupted_identity_fails_clearly_and_is_not_overwritten(fresh_host):
    host = fresh_host()
    on_host(host, f"mkdir -p /etc/deploy-system && echo garbage > {ID_FILE}")
    run = apply_and_summarize(host, roster_path(lab.lab_dir()), "core.identity")
    assert not run.success
    (failed,) = run.failed_states
    assert failed.id == "core-identity-host-id-present"
    assert "does not hold a valid UUID" in failed.comment and "never overwritten" in failed.comment
    assert on_host(host, f"cat {ID_FILE}").strip() == "garbage"
