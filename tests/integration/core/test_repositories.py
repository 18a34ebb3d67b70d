"""core.repositories on fresh lab hosts: Debian sources in deb822 form on the archive the host
already uses, the package cache refreshed from them, third-party sources and the lab's proxy
setting untouched; idempotent. Pillar variant: components."""

import pytest

from dsu.lab import hosts as lab
from dsu.lab.roster import roster_path
from tests.integration.conftest import apply_and_summarize, converge, on_host

SOURCES = "/etc/apt/sources.list.d/debian.sources"
THIRD_PARTY = "/etc/apt/sources.list.d/vendor.sources"
UNTOUCHED = f"/etc/apt/apt.conf.d/01dsu-lab-proxy {THIRD_PARTY}"


def _before(host):
    """The archive URI the fresh host uses (one-line sources.list) and checksums of what must stay."""
    archive = on_host(host, "awk '$1 == \"deb\" {print $2; exit}' /etc/apt/sources.list").strip()
    assert archive, "the lab image has no one-line Debian source"
    on_host(host, f"printf 'Types: deb\\nEnabled: no\\nURIs: http://vendor.invalid/apt\\n"
                  f"Suites: stable\\nComponents: main\\n' > {THIRD_PARTY}")
    return archive.rstrip("/"), on_host(host, f"sha256sum {UNTOUCHED}")


def _stanzas(text):
    return [dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith("#"))
            for block in text.strip().split("\n\n")]


@pytest.mark.parametrize("release", ["bookworm", "trixie"])
def test_repositories_defaults_write_deb822_and_refresh_the_cache(fresh_host, release):
    host = fresh_host(release)
    archive, checksums = _before(host)
    result = converge(host, "core.repositories")
    # dpkg is healthy on a fresh host: the repair of an interrupted one does not run.
    assert "core-repositories-interrupted-dpkg-repaired" not in \
        [s.id for s in result.first.changed_states]

    components = "main contrib non-free non-free-firmware"
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    assert _stanzas(on_host(host, f"cat {SOURCES}")) == [
        {"Types": "deb", "URIs": archive, "Suites": f"{release} {release}-updates",
         "Components": components, "Signed-By": keyring},
        {"Types": "deb", "URIs": f"{archive}-security", "Suites": f"{release}-security",
         "Components": components, "Signed-By": keyring},
    ]
    assert on_host(host, f"stat -c '%a %U' {SOURCES}").split() == ["644", "root"]
    # The one-line Debian entry is gone; only a pointer to debian.sources is left.
    legacy = on_host(host, "cat /etc/apt/sources.list")
    assert SOURCES in legacy and all(line.startswith("#") for line in legacy.splitlines()), legacy
    assert on_host(host, f"sha256sum {UNTOUCHED}") == checksums

    # The role refreshed the cache when the sources changed: the new suites' lists are there.
    lists = on_host(host, "ls /var/lib/apt/lists")
    for part in (f"{release}-security_non-free-firmware", f"{release}-updates_main", f"{release}_contrib"):
        assert f"_{part}_binary-amd64_Packages" in lists, lists
    update = on_host(host, "apt-get update 2>&1")
    assert not [line for line in update.splitlines() if line[:2] in ("W:", "E:")], update
    assert f"{release}-security/non-free-firmware" in on_host(host, "apt-cache policy")


def test_repositories_components_from_pillar(fresh_host):
    host = fresh_host()
    archive, _ = _before(host)
    pillar = {"core": {"repositories": {"components": ["main"]}}}
    converge(host, "core.repositories", pillar)

    stanzas = _stanzas(on_host(host, f"cat {SOURCES}"))
    assert [s["Components"] for s in stanzas] == ["main", "main"]
    assert [s["URIs"] for s in stanzas] == [archive, f"{archive}-security"]
    update = on_host(host, "apt-get update 2>&1")
    assert not [line for line in update.splitlines() if line[:2] in ("W:", "E:")], update
    lists = on_host(host, "ls /var/lib/apt/lists")
    assert "_bookworm-security_main_binary-amd64_Packages" in lists and "contrib" not in lists, lists

    # Sources unchanged but no package lists at all: the role builds the cache once.
    on_host(host, "rm /var/lib/apt/lists/*_Packages")
    run = apply_and_summarize(host, roster_path(lab.lab_dir()), "core.repositories", pillar=pillar)
    assert [s.id for s in run.changed_states] == ["core-repositories-package-cache-built"], run
    on_host(host, "ls /var/lib/apt/lists/*_bookworm-security_main_binary-amd64_Packages")
