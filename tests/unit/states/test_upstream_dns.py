"""upstream_dns.kept: the provider's DNS servers (a static resolv.conf) recorded before resolved's
stub replaces them, then kept as resolved's DNS=; pillar's servers first; honest test=True."""

import os

import pytest

from tests.support.saltmods import load, utils


@pytest.fixture
def module():
    return load("_states", "upstream_dns", opts={"test": False}, utils=utils("owned_file"))


@pytest.fixture
def files(tmp_path):
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("# provider\nsearch example.net\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n"
                      "nameserver 127.0.0.1\n")
    return {"resolv_conf": str(resolv), "record": str(tmp_path / "dsu" / "dns-servers"),
            "name": str(tmp_path / "resolved.conf.d" / "40-dsu-upstream.conf")}


def kept(module, files, test=False, **kwargs):
    module.__opts__["test"] = test
    return module.kept(**{**files, **kwargs})


def _stub(files):
    os.unlink(files["resolv_conf"])
    os.symlink("/run/systemd/resolve/stub-resolv.conf", files["resolv_conf"])


def test_static_servers_recorded_then_kept_after_the_stub_took_over(module, files):
    planned = kept(module, files, test=True)
    assert planned["result"] is None and set(planned["changes"]) == {"recorded", "dropin"}
    assert not os.path.exists(files["name"])
    first = kept(module, files)
    assert first["result"] is True and set(first["changes"]) == {"recorded", "dropin"}
    with open(files["name"]) as dropin:
        assert dropin.read().endswith("[Resolve]\nDNS=192.0.2.53 2001:db8::53\n")
    _stub(files)  # what installing systemd-resolved does
    again = kept(module, files)
    assert again["result"] is True and again["changes"] == {}, again
    assert "from " + files["record"] in again["comment"]


def test_pillar_servers_win(module, files):
    ret = kept(module, files, servers=["198.51.100.1"])
    with open(files["name"]) as dropin:
        assert dropin.read().endswith("DNS=198.51.100.1\n")
    assert "(from pillar)" in ret["comment"]


def test_no_server_known_is_a_warning_and_no_change(module, files):
    _stub(files)
    ret = kept(module, files)
    assert ret["result"] is True and ret["changes"] == {} and ret["warnings"]
    assert not os.path.exists(files["name"])
