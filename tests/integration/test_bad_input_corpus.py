"""The bad-input corpus: one case per class of bad input an operator (or an adversary) can hand the
deploy, each tried against a real Debian 12 lab host whose pillar holds secret canaries (a SOPS
and a GPG secrets file, tests/support/preflighttree.py).

Every case must be:
- refused before any change: the host is unchanged afterwards (tests/support/hostsnapshot.py);
- named: the message names the file (the pillar file, or for a render the SLS and the contract)
  and the pillar key;
- clean: no canary on the host or on this side afterwards (salt-ssh's state bundle carries the
  whole compiled pillar), none printed.

Pillar cases go through `dsu preflight` (the gate `dsu deploy` passes first). The parameter cases
also go through a real highstate with no preflight at all (salt-ssh state.apply, as an operator
bypassing dsu would run it): the roles' contracts refuse the render, so no state runs. CLI cases
are refused with one line and exit 2. The interruption cases (dpkg killed mid-unpack on the host,
the operator's salt-ssh killed mid-run) are in test_interrupted_runs.py and
test_no_secret_left_behind.py.
"""

from dataclasses import dataclass

import pytest
import yaml

from dsu.lab import hosts as lab
from dsu.lab.roster import roster_path
from dsu.saltconfig import salt_config_dir, setup
from dsu.saltssh import salt_ssh
from tests.conftest import REPO
from tests.support import hostsnapshot
from tests.support.dsucli import run_dsu
from tests.support.leaks import host_leaks, operator_leaks, stamp
from tests.support.preflighttree import CANARIES, VALUE_CANARIES, operator_env, write_tree
from tests.support.sopskeys import stop_gpg_agent

SECRETS = [*CANARIES.values(), VALUE_CANARIES["pem"].splitlines()[1], VALUE_CANARIES["token"]]
CASE_FILE = "case.sls"  # the case's pillar, added to every host's top (salt/top.sls's "*" list)


@dataclass(frozen=True)
class Case:
    kind: str  # the class of bad input
    text: str  # case.sls
    key: str  # the pillar key every refusal names
    file: str = CASE_FILE  # the file preflight names (relative to the tree)
    role: str = ""  # for a parameter case: the role whose render refuses too
    required: tuple[str, ...] = ()  # secret names added to secrets/provider.yaml's required list


CASES = [
    Case("type", "core:\n  time:\n    servers: ntp.example.org\n", "core:time:servers", role="core/time"),
    Case("allowed values", "core:\n  memory:\n    strategy: fastest\n", "core:memory:strategy",
         role="core/memory"),
    Case("range", "core:\n  memory:\n    zram:\n      percent: 500\n", "core:memory:zram:percent",
         role="core/memory"),
    # a production host's highstate ends with ops.health_check (salt/top.sls)
    Case("cross-field", "deploy: {profile: production}\n"
         "health_check:\n  disks:\n    /:\n      warn: 95\n      critical: 90\n",
         "health_check:disks:/", role="ops/health_check"),
    Case("newline injection", 'core:\n  time:\n    servers: ["ntp.example.org\\nallow all"]\n',
         "core:time:servers:0", role="core/time"),
    Case("unsafe path", "core:\n  secrets:\n    directory: /etc/../root/.ssh\n", "core:secrets:directory",
         role="core/secrets"),
    Case("unsafe file name",
         "core:\n  secrets:\n    files:\n      ../../etc/cron.d/x: {value: db_password}\n",
         "core:secrets:files:../../etc/cron.d/x", role="core/secrets"),
    Case("mode not octal", "core:\n  identity:\n    mode: 0644\n", "core:identity:mode",
         role="core/identity"),
    Case("unknown key", "core:\n  time:\n    server: [ntp.example.org]\n", "core:time:server",
         role="core/time"),
    Case("needed key missing", "core:\n  logging:\n    forwarding: {enabled: true}\n",
         "core:logging:forwarding:target", role="core/logging"),
    Case("role layer not a mapping", "core:\n  memory: fast\n", "core:memory", role="core/memory"),
    Case("unknown profile", "deploy:\n  profile: prod\n", "deploy:profile"),
    Case("malformed YAML", "core:\n  time:\n    servers: [a.example\n  memory: {}\n", "line 4, column"),
    Case("malformed YAML after Jinja", "{% set n = 1 %}\ncore:\n  time: {servers: [a\n", "line 3, column"),
    Case("required secret missing", "{}\n", "secrets:values:smtp_password", "secrets/provider.yaml",
         required=("smtp_password",)),
    Case("plaintext secret by value", "app:\n  tls_key: |\n    "
         + "\n    ".join(VALUE_CANARIES["pem"].splitlines()) + "\n", "app:tls_key"),
    Case("plaintext secret by name", f"app:\n  root_pw: {VALUE_CANARIES['token']}\n", "app:root_pw"),
    Case("alias bomb", "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)},"
        f" *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9)), "alias"),
]


def _tree(tmp_path, keys, host, case):
    tree = write_tree(tmp_path, keys, host.name)
    top = tree.pillar / "top.sls"
    listed = '{"*": ["deploy", "defaults", "secrets.provider"]}'
    assert listed in top.read_text()
    top.write_text(top.read_text().replace(listed, listed[:-2] + ', "case"]}'))
    (tree.pillar / CASE_FILE).write_text(case.text)
    if case.required:
        provider = tree.pillar / "secrets" / "provider.yaml"
        data = yaml.safe_load(provider.read_text())
        data["required"] += list(case.required)
        provider.write_text(yaml.safe_dump(data))
    return tree


def _assert_clean(host, since, temp, output=""):
    for secret in SECRETS:
        assert secret not in output, "a secret value was printed"
    leaks = [f"lab host: {p}" for p in host_leaks(host, SECRETS, since)]
    leaks += [f"operator side: {p}" for p in operator_leaks(SECRETS, temp, REPO / ".salt-root")]
    assert leaks == [], f"a secret was left behind: {leaks}"


@pytest.mark.parametrize("case", CASES, ids=[c.kind.replace(" ", "-") for c in CASES])
def test_preflight_refuses_naming_file_and_key(host, keys, before, tmp_path, case):
    tree = _tree(tmp_path, keys, host, case)
    temp = tmp_path / "tmp"
    temp.mkdir()
    stop_gpg_agent(tree.keys.path)
    since = stamp(host)
    proc = run_dsu("preflight", host.name, "--config-dir", str(tree.config), "--pillar-root",
                   str(tree.pillar), env=operator_env(tree, temp))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    named = [line for line in proc.stdout.splitlines() if case.file in line and case.key in line]
    assert named, f"no problem names {case.file} and {case.key}:\n{proc.stdout}"
    hostsnapshot.assert_unchanged(host, before, f"preflight ({case.kind})")
    _assert_clean(host, since, temp, proc.stdout + proc.stderr)


@pytest.mark.parametrize("case", [c for c in CASES if c.role],
                         ids=[c.kind.replace(" ", "-") for c in CASES if c.role])
def test_a_highstate_without_preflight_is_refused_at_render(host, keys, before, tmp_path, case,
                                                            monkeypatch):
    tree = _tree(tmp_path, keys, host, case)
    temp = tmp_path / "tmp"
    temp.mkdir()
    for name, value in operator_env(tree, temp).items():
        monkeypatch.setenv(name, value)
    stop_gpg_agent(tree.keys.path)
    since = stamp(host)
    conf = setup(tree.config, tree.pillar)
    with salt_config_dir(conf, tree.pillar) as config:
        run = salt_ssh([host.name], "state.apply", roster=roster_path(lab.lab_dir()),
                       config_dir=config, wipe=True, timeout=600)
    stop_gpg_agent(tree.keys.path)
    ret = run.returns.get(host.name)
    assert isinstance(ret, list), f"the highstate was not refused at render: {str(ret)[:2000]}"
    said = "\n".join(map(str, ret))
    assert f"salt://{case.role}/parameters/contract.yaml" in said and case.key in said, said[:3000]
    sls = case.role.replace("/", ".")
    assert f"Rendering SLS 'base:{sls}' failed" in said, said[:3000]
    hostsnapshot.assert_unchanged(host, before, f"the highstate ({case.kind})")
    _assert_clean(host, since, temp, said)


@pytest.mark.parametrize(("argv", "says"), [
    (["secrets", "decrypt", "/bin/true"], "not UTF-8"),
    (["lab", "up", "x", "--count", "1000000"], "--count"),
    (["idempotence", "--roles", ","], "--roles"),
    (["deploy", "--lab", "bad name!"], "--lab"),
])
def test_bad_cli_arguments_are_one_line_and_exit_2(argv, says):
    proc = run_dsu(*argv, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in proc.stderr, proc.stderr
