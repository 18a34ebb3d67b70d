"""Preflight: every secrets and pillar problem, before anything on a host changes.

``check(targets, roster)`` runs the operator-side checks once (dsu/secrets/checks.py: secrets
files decrypt here, no plaintext secret, key directories private), then one salt-ssh run over all
targets: ``state.apply preflight test=True`` (salt/preflight): the pillar compiles for each, the
required secrets are in it, every role's parameters meet its contract, the host is in exactly
one deployment profile and meets that profile's contract. Every problem is returned (file or
host, key path, reason; never a value). Nothing is written anywhere but a temporary Salt config
when a pillar root is given. ``dsu preflight TARGET`` prints them; ``dsu deploy`` refuses on any.

Nothing secret stays behind either. salt-ssh ships each target's whole compiled pillar for the
state run, in the state bundle it leaves in its working directory there: the run wipes that
directory when it ends, whatever preflight found, and so waits first for any earlier state run
still going on the target in the same directory (an operator's salt-ssh killed mid-run leaves
its run on the host going). The gpg-agents the checks and salt-ssh's pillar compile start in the
key directories are stopped when the check is done (dsu/secrets/agents.py).
"""

import argparse
import json
import os
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from dsu import pillarfiles
from dsu.errors import BOUNDS, DsuError, Problem, one_line
from dsu.hostbusy import wait_for_earlier_runs
from dsu.lab import hosts
from dsu.progress import Progress
from dsu.runs import summarize_states
from dsu.saltconfig import salt_config_dir, setup
from dsu.saltssh import SaltRun, salt_ssh
from dsu.secrets import agents
from dsu.secrets.checks import local_problems

_UNRENDERED = re.compile(r"Rendering SLS '([^']+)' failed")


class Findings(list[Problem]):
    """The problems of one preflight, and a short account of what the local checks read."""

    checked: str = ""
    local: int = 0  # how many of them the checks on this side found
    by_host: dict[str, list[Problem]]  # the problems found on each target (after the local ones)

    def __init__(self, problems: Iterable[Problem] = ()) -> None:
        super().__init__(problems)
        self.by_host = {}


def _pillar_render_problem(host: str, message: str, log: str, roots: list[Path]) -> Problem:
    """A pillar SLS that did not render, named by its file, with Salt's own words from the log
    (line and column) in place of "see master log"."""
    found = _UNRENDERED.match(message)
    sls = found.group(1) if found else ""
    path = pillarfiles.sls_file(roots, sls) if sls else None
    said = pillarfiles.render_errors(log).get(sls) if sls else None
    if not said:
        return Problem(str(path or host), f"pillar does not compile: {one_line(message)}")
    if path is not None and pillarfiles.has_jinja(path):
        said += " (line numbers of the text Jinja rendered)"
    return Problem(str(path or host), f"pillar SLS '{sls}' does not compile for {host}: {said}")


def _with_origin(host: str, line: str, roots: list[Path], kind: str = "") -> Problem:
    """A problem of the preflight state (``<pillar key>: what`` for a parameter, ``deploy:profile
    <profile>: <pillar key>: what`` for a rule of the host's profile, ``<pillar key> is …`` for the
    others), with the plain pillar file(s) that set the key: for a parameter or a profile rule
    also those that set the part of it that is there (a missing field: its role's mapping)."""
    if kind == "profile":
        key = line.split(": ", 2)[1] if line.count(": ") >= 2 else ""
    elif kind == "parameter":
        key = line.split(": ", 1)[0]
    else:
        key = line.split(" ", 1)[0]
    files = pillarfiles.setting_files(roots, key, whole=not kind) if ":" in key else []
    return Problem(host, line + (f" (set in {', '.join(map(str, files))})" if files else ""))


def target_problems(host: str, run: SaltRun, pillar_roots: list[Path] | None = None) -> list[Problem]:
    """Problems in salt-ssh's answer to ``state.apply preflight``: pillar errors (the file, and
    Salt's message with its line and column), the preflight state's list (parameter and profile
    problems with the file that sets the key), any other failure."""
    roots = pillar_roots or []
    ret = run.returns.get(host)
    if ret is None:
        return [Problem(host, f"no answer from salt-ssh (exit {run.returncode}): {one_line(run.stderr)}")]
    if isinstance(ret, list):
        messages = [str(m) for m in ret]
        if messages and messages[0].startswith("Pillar failed to render"):
            return [_pillar_render_problem(host, m, run.stderr, roots) for m in messages[1:]] \
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
            kinds = {**{p: "parameter" for p in state.get("parameter_problems") or []},
                     **{p: "profile" for p in state.get("profile_problems") or []}}
            problems += [_with_origin(host, str(p), roots, kinds.get(p, ""))
                         for p in state.get("problems") or []]
            if state.get("result") is False and not state.get("problems"):
                problems.append(Problem(host, f"preflight state failed: {comment}"))
        elif state.get("result") is False:
            problems.append(Problem(host, f"{state.get('__id__', key)}: {comment}"))
    if not ran:
        problems.append(Problem(host, "the preflight state did not run"))
    return problems


def check(targets: list[str], roster: Path, config_dir: Path | None = None,
          pillar_root: Path | None = None, progress: Progress | None = None,
          timeout: float = 600, pillar: dict[str, Any] | None = None) -> Findings:
    """Every problem for *targets* of *roster*: the local checks once, then one salt-ssh run
    (with *pillar* over each target's own, as the deploy's runs will have it)."""
    progress = progress or Progress()
    conf = setup(config_dir, pillar_root)
    progress.step(f"local checks: pillar {', '.join(map(str, conf.pillar_roots))}, config {conf.config_dir}")
    found = Findings()
    # Here and in salt-ssh's pillar compile, GnuPG decrypts in these homes and starts an agent in
    # each: those are stopped when the check is done.
    with agents.stopped_after(conf.gpg_keydir, conf.sops_gnupghome, os.environ.get("GNUPGHOME")):
        local, found.checked = local_problems(conf)
        local += pillarfiles.syntax_problems(conf.pillar_roots)
        found += local
        found.local = len(local)
        hostile = [p.where for p in local if p.criterion == BOUNDS]
        if hostile:
            # Salt reads pillar without yamlread's bounds: an alias bomb would hold salt-ssh's
            # pillar compile for hours. Nothing is sent to the targets.
            progress.step(f"{len(local)} local problem(s); not compiled on the targets: over a YAML "
                          "bound", ", ".join(targets))
            found += [Problem(target, "not checked on the target: Salt would compile a pillar "
                                      f"file over a YAML bound ({', '.join(hostile)})") for target in targets]
            return found
        progress.step(f"{len(local)} local problem(s); salt-ssh state.apply preflight", ", ".join(targets))
        with salt_config_dir(conf, pillar_root) as salt_config:
            busy = wait_for_earlier_runs(targets, roster=roster, config_dir=salt_config)
            run = _remote_check([t for t in targets if t not in busy], roster, salt_config, timeout,
                                pillar)
    for target in targets:
        remote = [Problem(target, busy[target])] if target in busy \
            else target_problems(target, run, conf.pillar_roots)
        progress.step(f"{len(remote)} problem(s) on the target", target)
        found += remote
        found.by_host[target] = remote
    return found


def _remote_check(targets: list[str], roster: Path, config_dir: Path, timeout: float,
                  pillar: dict[str, Any] | None = None) -> SaltRun:
    """``state.apply preflight test=True`` on *targets* in one salt-ssh run. It wipes salt-ssh's
    working directory on each target when done: the state bundle there holds the target's whole
    decrypted pillar, and a refused preflight must leave none behind (nor a passed one: the
    deploy's own runs ship and wipe theirs)."""
    if not targets:
        return SaltRun(0, {}, "")
    try:
        extra = [f"pillar={json.dumps(pillar)}"] if pillar else []
        return salt_ssh(targets, "state.apply", "preflight", "test=True", *extra, roster=roster,
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
        print(f"preflight {target}: {len(found)} problem(s) ({found.local} here, "
              f"{len(found) - found.local} on the target)")
        return 1
    print(f"preflight {target}: passed ({found.checked}; pillar compiled and checked on the target)")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "preflight", help="before any change: secrets files decrypt, no plaintext secret in plain "
        "pillar, key directories private, then the pillar compiles for TARGET with every required "
        "secret, valid role parameters, one deployment profile whose contract it meets (salt-ssh, "
        "nothing changed); exit 1 listing every problem")
    parser.add_argument("target", help="a roster name: a running lab host, or one in --roster-file")
    parser.add_argument("--roster-file", help="salt-ssh roster with TARGET (default: the lab's)")
    parser.add_argument("--config-dir", help="Salt config directory (default etc/salt)")
    parser.add_argument("--pillar-root", help="check this pillar tree instead of pillar_roots")
    parser.set_defaults(func=_command)
