import pytest

from dsu.errors import DsuError
from dsu.lab import mirror
from dsu.saltext import utils_module

DEB822 = """\
Types: deb
URIs: http://mirror.example.test/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb-src
URIs: http://src.example.test/debian

Types: deb
URIs: http://security.example.test/debian-security
Suites: bookworm-security
Enabled: yes
"""


def test_deb822_and_one_line_sources_are_read(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d/debian.sources").write_text(DEB822)
    (tmp_path / "d/extra.list").write_text("deb [arch=amd64 signed-by=/k.gpg] https://x.test/apt main\n")
    (tmp_path / "sources.list").write_text("# deb http://commented.test/debian x\n")
    uris = mirror.configured_uris(tmp_path / "d", tmp_path / "sources.list")
    assert uris == [
        "http://mirror.example.test/debian",
        "http://security.example.test/debian-security",
        "https://x.test/apt",
    ]


def test_debian_mirror_prefers_archive_and_env_override(monkeypatch):
    monkeypatch.delenv("DSU_MIRROR", raising=False)
    uris = ["http://security.test/debian-security", "http://archive.test/debian/"]
    assert mirror.debian_mirror(uris) == "http://archive.test/debian"
    monkeypatch.setenv("DSU_MIRROR", "http://override.test/debian/")
    assert mirror.debian_mirror(uris) == "http://override.test/debian"


def test_no_mirror_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("DSU_MIRROR", raising=False)
    with pytest.raises(DsuError, match="no Debian archive") as err:
        mirror.debian_mirror(["https://x.test/apt"])
    assert "DSU_MIRROR" in err.value.fix


def test_proxy_allows_only_configured_hosts(monkeypatch):
    monkeypatch.delenv("DSU_MIRROR", raising=False)
    allowed = mirror.proxy_allowed_hosts(["http://a.test/debian", "http://b.test/debian-security"])
    assert allowed == {"a.test", "b.test"}


@pytest.mark.parametrize("enabled", ["no", "No", "NO"])
def test_a_disabled_stanza_is_skipped_as_on_the_hosts(tmp_path, enabled):
    # One parser for the lab and the hosts' aptsources module: they agree on "Enabled: No".
    text = f"Types: deb\nURIs: http://off.test/debian\nSuites: trixie\nEnabled: {enabled}\n\n" + DEB822
    (tmp_path / "d").mkdir()
    (tmp_path / "d/debian.sources").write_text(text)
    uris = mirror.configured_uris(tmp_path / "d", tmp_path / "sources.list")
    assert uris == ["http://mirror.example.test/debian", "http://security.example.test/debian-security"]
    on_hosts = utils_module("apt_sources").parse_deb822(text)
    assert uris == [uri for entry_uris, _suites in on_hosts for uri in entry_uris]
