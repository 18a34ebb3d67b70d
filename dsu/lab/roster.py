"""The salt-ssh roster and known_hosts for running lab hosts."""

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import yaml

from dsu.paths import locked, replace_file
from dsu.targets import BOOTSTRAP_KEY


class _Host(Protocol):
    name: str
    address: str
    host_key: str


def roster_path(lab: Path) -> Path:
    return lab / "roster"


def known_hosts_path(lab: Path) -> Path:
    return lab / "known_hosts"


def entries(hosts: Iterable[_Host], key: Path, lab: Path) -> dict[str, dict[str, object]]:
    """Root on port 22 for every host; a vps-like host is first contact (dsu/targets.py): its
    first deploy bootstraps it to the deploy user on port 2222."""
    return {
        host.name: {
            **({BOOTSTRAP_KEY: True} if getattr(host, "like", "") == "vps" else {}),
            "host": host.address,
            "port": 22,
            "user": "root",
            "priv": str(key),
            # Host keys are known in advance (they come from the image): verify, never trust-on-first-use.
            "ssh_options": [
                f"UserKnownHostsFile={known_hosts_path(lab)}",
                "StrictHostKeyChecking=yes",
            ],
        }
        for host in hosts
    }


def _moved(path: Path, hosts: list[_Host]) -> dict[str, dict[str, object]]:
    """The access of the hosts a bootstrap has moved (user, port, sudo in their entry, no
    first-contact key), for the same host at the same address: kept across rewrites."""
    try:
        old = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}
    kept = {}
    for host in hosts:
        entry = old.get(host.name) if isinstance(old, dict) else None
        if isinstance(entry, dict) and entry.get("host") == host.address \
                and BOOTSTRAP_KEY not in entry and entry.get("user", "root") != "root":
            kept[host.name] = {k: entry[k] for k in ("user", "port", "sudo") if k in entry}
    return kept


def write(lab: Path, hosts: list[_Host], key: Path) -> Path:
    path = roster_path(lab)
    # The lock dsu bootstrap takes to rewrite an entry (targets.bootstrapped).
    with locked(path.with_name(f".{path.name}.lock")):
        return _write(path, lab, hosts, key)


def _write(path: Path, lab: Path, hosts: list[_Host], key: Path) -> Path:
    roster = entries(hosts, key, lab)
    moved = _moved(path, hosts)
    for name, access in moved.items():
        roster[name].pop(BOOTSTRAP_KEY, None)
        roster[name].update(access)
    header = "# Written by dsu lab for the lab hosts now running; rewritten on every up/down.\n"
    # A comment, not a roster key: salt-ssh passes roster keys on to its targets.
    likes = [(host.name, getattr(host, "like", "")) for host in hosts]
    header += "".join(f"# {name}: {like}-like (dsu lab up --like {like})\n" for name, like in likes
                      if like)
    # Atomic: a salt-ssh run against one host may be reading these while another host comes or goes.
    replace_file(path, header + yaml.safe_dump(roster, sort_keys=True), 0o600)
    known = [f"{h.address} {h.host_key}\n" for h in hosts]
    # The same sshd answers on a bootstrapped host's new port: its key, known in advance.
    known += [f"[{h.address}]:{moved[h.name]['port']} {h.host_key}\n" for h in hosts
              if h.name in moved and moved[h.name].get("port", 22) != 22]
    replace_file(known_hosts_path(lab), "".join(known), 0o644)
    return path
