"""The APT sources reader (_utils/apt_sources.py): which archive a host already uses."""

from tests.support.saltmods import load

aptsources = load("_utils", "apt_sources")

DEB822 = """\
Types: deb deb-src
URIs: http://mirror.example/debian/
Suites: trixie trixie-updates
Components: main

# Types: deb
# URIs: http://commented.example/debian

Types: deb
URIs: http://mirror.example/debian-security
Suites: trixie-security
Components: main

Types: deb
Enabled: no
URIs: http://disabled.example/debian
Suites: bookworm
"""

ONE_LINE = """\
# deb http://commented.example/debian bookworm main
deb-src http://src.example/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://opts.example/debian bookworm main
deb http://plain.example/debian bookworm-updates main  # trailing comment
"""


def _tree(tmp_path, files):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / "sources.list.d").mkdir(exist_ok=True)
    return str(tmp_path)


def test_deb822_enabled_deb_stanzas_only():
    assert aptsources.parse_deb822(DEB822) == [
        (["http://mirror.example/debian/"], ["trixie", "trixie-updates"]),
        (["http://mirror.example/debian-security"], ["trixie-security"]),
    ]


def test_one_line_skips_comments_deb_src_and_option_blocks():
    assert aptsources.parse_one_line(ONE_LINE) == [
        (["http://opts.example/debian"], ["bookworm"]),
        (["http://plain.example/debian"], ["bookworm-updates"]),
    ]


def test_archive_is_the_entry_listing_the_codename_itself(tmp_path):
    apt = _tree(tmp_path, {"sources.list": ONE_LINE})
    assert aptsources.archive_uri("bookworm", apt) == "http://opts.example/debian"
    assert aptsources.archive_uri("trixie", apt) == ""


def test_debian_sources_wins_over_sources_list_and_other_files(tmp_path):
    apt = _tree(tmp_path, {
        "sources.list": "deb http://old.example/debian trixie main\n",
        "sources.list.d/aaa.sources": "Types: deb\nURIs: http://aaa.example/debian\nSuites: trixie\n",
        "sources.list.d/debian.sources": DEB822,
    })
    assert aptsources.archive_uri("trixie", apt) == "http://mirror.example/debian"


def test_sources_dir_and_list_given_apart_keep_the_order(tmp_path):
    _tree(tmp_path, {
        "lists/zzz.list": "deb http://list.example/debian trixie main\n",
        "lists/debian.sources": DEB822,
        "lists/aaa.sources": "Types: deb\nURIs: http://aaa.example/debian\nSuites: trixie\n",
        "main.list": "deb http://main.example/debian trixie main\n",
    })
    found = aptsources.entries(sources_dir=str(tmp_path / "lists"), sources_list=str(tmp_path / "main.list"))
    assert [uris[0] for uris, _ in found] == [
        "http://mirror.example/debian/", "http://mirror.example/debian-security",
        "http://aaa.example/debian", "http://main.example/debian", "http://list.example/debian"]


def test_no_sources_at_all_gives_empty(tmp_path):
    assert aptsources.archive_uri("bookworm", str(tmp_path)) == ""


def test_security_beside_archive():
    assert aptsources.security_from_archive("http://m.example/debian/") == "http://m.example/debian-security"
    assert aptsources.security_from_archive("https://m.example:8080/mirror/debian") == \
        "https://m.example:8080/mirror/debian-security"
    assert aptsources.security_from_archive("") == ""
