"""Preflight: every secrets and pillar problem, before anything on a host changes.

``check(targets, roster)`` runs the operator-side checks once (dsu/secrets/checks.py: secrets
files decrypt here, no plaintext secret, key directories private), then one salt-ssh run over all
targets: ``state.apply preflight test=True`` (salt/preflight): the pillar compiles for each, the
required secrets are in it, ``deploy:profile`` is known. Every problem is returned (file or host,
key path, reason; never a value). Nothing is written anywhere but a temporary Salt config when a
pillar root is given. ``dsu preflight TARGET`` prints them; ``dsu deploy`` refuses on any.

Nothing secret stays behind either. salt-ssh ships each target's whole compiled pillar for the
state run, in the state bundle it leaves in its working directory there: the run wipes that
directory when it ends, whatever preflight found, and so waits first for any earlier state run
still going on the target in the same directory (an operator's salt-ssh killed mid-run leaves
its run on the host going). The gpg-agents the checks and salt-ssh's pillar compile start in the
key directories are stopped when the check is done (dsu/secrets/agents.py).
"""

import argparse
import os
import subprocess
from pathlib import Path

import yaml

from dsu.errors import DsuError, Problem, one_line
from dsu.hostbusy import wait_for_earlier_runs
from dsu.lab import hosts
from dsu.progress import Progress
from dsu.runs import summarize_states
from dsu.saltconfig import salt_config_dir, setup
from dsu.saltssh import SaltRun, salt_ssh
from dsu.secrets import agents
from dsu.secrets.checks import local_problems


class Findings(list[Problem]):
    """The problems of one preflight, and a short account of what the local checks read."""

    checked: str = ""


def target_problems(host: str, run: SaltRun) -> list[Problem]:
    """Problems in salt-ssh's answer to ``state.apply preflight``: pillar errors, the preflight
    state's list, any other failure."""
    ret = run.returns.get(host)
    if ret is None:
        return [Problem(host, f"no answer from salt-ssh (exit {run.returncode}): {one_line(run.stderr)}")]
    if isinstance(ret, list):
        messages = [str(m) for m in ret]
        if messages and messages[0].startswith("Pillar failed to render"):
            return [Problem(host, f"pillar does not compile: {one_line(m)}") for m in messages[1:]] \
                or [Problem(host, "pillar does not compile")]
        return [Problem(host, f"state run failed: {one_line(m)}") for m in messages]
    if isinstance(ret, dict) and "retcode" in ret and not isinstance(ret.get("stderr"), dict):
        # salt-ssh's own failure (SSH, the thin) instead of a state return
        why = ret.get("stderr") or ret.get("stdout") or ret.get("_error") or ""
        return [Problem(host, f"salt-ssh failed (retcode {ret['retcode']}): {one_line(why)}")]
    summary = summarize_states(ret)
    if summary.errors:
        return [Problem(host, f"salt-ssh: {one_line(e)}") for e in summary.errors]
    problems, ran = [], False
    for key, state in ret.items():
        comment = one_line(state.get("comment", ""))
        if key.startswith("preflight_|-"):
            ran = True
            problems += [Problem(host, str(p)) for p in state.get("problems") or []]
            if state.get("result") is False and not state.get("problems"):
                problems.append(Problem(host, f"preflight state failed: {comment}"))
        elif state.get("result") is False:
            problems.append(Problem(host, f"{state.get('__id__', key)}: {comment}"))
    if not ran:
        problems.append(Problem(host, "the preflight state did not run"))
    return problems


def check(targets: list[str], roster: Path, config_dir: Path | None = None,
          pillar_root: Path | None = None, progress: Progress | None = None,
          timeout: float = 600) -> Findings:
    """Every problem for *targets* of *roster*: the local checks once, then one salt-ssh run."""
    progress = progress or Progress()
    conf = setup(config_dir, pillar_root)
    progress.step(f"local checks: pillar {', '.join(map(str, conf.pillar_roots))}, config {conf.config_dir}")
    found = Findings()
    # Here and in salt-ssh's pillar compile, GnuPG decrypts in these homes and starts an agent in
    # each: those are stopped when the check is done.
    with agents.stopped_after(conf.gpg_keydir, conf.sops_gnupghome, os.environ.get("GNUPGHOME")):
        local, found.checked = local_problems(conf)
        found += local
        progress.step(f"{len(local)} local problem(s); salt-ssh state.apply preflight", ", ".join(targets))
        with salt_config_dir(conf, pillar_root) as salt_config:
            busy = wait_for_earlier_runs(targets, roster=roster, config_dir=salt_config)
            run = _remote_check([t for t in targets if t not in busy], roster, salt_config, timeout)
    for target in targets:
        remote = [Problem(target, busy[target])] if target in busy else target_problems(target, run)
        progress.step(f"{len(remote)} problem(s) on the target", target)
        found += remote
    return found


def _remote_check(targets: list[str], roster: Path, config_dir: Path, timeout: float) -> SaltRun:
    """``state.apply preflight test=True`` on *targets* in one salt-ssh run. It wipes salt-ssh's
    working directory on each target when done: the state bundle there holds the target's whole
    decrypted pillar, and a refused preflight must leave none behind (nor a passed one: the
    deploy's own runs ship and wipe theirs)."""
    if not targets:
        return SaltRun(0, {}, "")
    try:
        return salt_ssh(targets, "state.apply", "preflight", "test=True", roster=roster,
                        timeout=timeout, config_dir=config_dir, wipe=True)
    except subprocess.TimeoutExpired:
        return SaltRun(-1, {}, f"salt-ssh did not finish within {timeout:.0f}s")


# --- the command ---------------------------------------------------------------------------------


def roster_for(target: str, roster_file: Path | None) -> Path:
    """The roster that has *target*: --roster-file, else the lab's for a running lab host."""
    if roster_file is None:
        if target not in {h.name for h in hosts.registered()}:
            raise DsuError(f"{target} is not a running lab host", "pass --roster-file ROSTER for other hosts")
        roster_file = hosts.roster_file()
    try:
        entries = yaml.safe_load(roster_file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DsuError(f"roster {roster_file}: cannot read: {one_line(str(exc))}") from None
    if not isinstance(entries, dict) or target not in entries:
        raise DsuError(f"{target} is not in the roster {roster_file}", "name a host of the roster")
    return roster_file


def _command(args: argparse.Namespace) -> int:
    """Print one line per problem and a summary; 0 when there is none, else 1."""
    path = lambda value: Path(value) if value else None  # noqa: E731
    target = args.target
    roster = roster_for(target, path(args.roster_file))
    found = check([target], roster, path(args.config_dir), path(args.pillar_root))
    for problem in found:
        print(problem.line())
    if found:
        remote = sum(p.where == target for p in found)
        print(f"preflight {target}: {len(found)} problem(s) ({len(found) - remote} here, "
              f"{remote} on the target)")
        return 1
    print(f"preflight {target}: passed ({found.checked}; pillar compiled and checked on the target)")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "preflight", help="before any change: secrets files decrypt, no plaintext secret in plain "
        "pillar, key directories private, then the pillar compiles for TARGET with every required "
        "secret (salt-ssh, nothing changed); exit 1 listing every problem")
    parser.add_argument("target", help="a roster name: a running lab host, or one in --roster-file")
    parser.add_argument("--roster-file", help="salt-ssh roster with TARGET (default: the lab's)")
    parser.add_argument("--config-dir", help="Salt config directory (default etc/salt)")
    parser.add_argument("--pillar-root", help="check this pillar tree instead of pillar_roots")
    parser.set_defaults(func=_command)
