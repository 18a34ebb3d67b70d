"""The salt-ssh roster and known_hosts for running lab hosts."""

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import yaml

from dsu.paths import replace_file


class _Host(Protocol):
    name: str
    address: str
    host_key: str


def roster_path(lab: Path) -> Path:
    return lab / "roster"


def known_hosts_path(lab: Path) -> Path:
    return lab / "known_hosts"


def entries(hosts: Iterable[_Host], key: Path, lab: Path) -> dict[str, dict[str, object]]:
    return {
        host.name: {
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


def write(lab: Path, hosts: list[_Host], key: Path) -> Path:
    path = roster_path(lab)
    header = "# Written by dsu lab for the lab hosts now running; rewritten on every up/down.\n"
    # A comment, not a roster key: salt-ssh passes roster keys on to its targets.
    likes = [(host.name, getattr(host, "like", "")) for host in hosts]
    header += "".join(f"# {name}: {like}-like (dsu lab up --like {like})\n" for name, like in likes
                      if like)
    # Atomic: a salt-ssh run against one host may be reading these while another host comes or goes.
    replace_file(path, header + yaml.safe_dump(entries(hosts, key, lab), sort_keys=True), 0o600)
    replace_file(known_hosts_path(lab), "".join(f"{h.address} {h.host_key}\n" for h in hosts),
                 0o644)
    return path
