"""The lab package proxy against a real upstream HTTP server on loopback."""

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dsu.lab.proxy import CachingProxy


class Upstream(BaseHTTPRequestHandler):
    hits: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        Upstream.hits.append(self.path)
        if self.path.endswith("missing.deb"):
            self.send_error(404)
            return
        body = f"content of {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _serve(server):
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return server


@pytest.fixture
def proxy(tmp_path):
    Upstream.hits = []
    upstream = _serve(ThreadingHTTPServer(("127.0.0.1", 0), Upstream))
    proxy = _serve(CachingProxy(("127.0.0.1", 0), tmp_path / "cache", {"127.0.0.1"}))
    yield proxy, upstream.server_address[1]
    proxy.shutdown()
    upstream.shutdown()
    proxy.server_close()
    upstream.server_close()


def _get(proxy, url):
    conn = http.client.HTTPConnection(*proxy.server_address, timeout=5)
    conn.request("GET", url)
    resp = conn.getresponse()
    return resp.status, resp.read()


def test_debs_are_fetched_once_then_served_from_cache(proxy):
    server, port = proxy
    url = f"http://127.0.0.1:{port}/debian/pool/main/c/curl/curl_1.deb"
    assert _get(server, url) == (200, b"content of /debian/pool/main/c/curl/curl_1.deb")
    assert _get(server, url)[1] == b"content of /debian/pool/main/c/curl/curl_1.deb"
    assert Upstream.hits == ["/debian/pool/main/c/curl/curl_1.deb"]


def test_indexes_always_go_upstream(proxy):
    server, port = proxy
    for _ in range(2):
        assert _get(server, f"http://127.0.0.1:{port}/debian/dists/bookworm/InRelease")[0] == 200
    assert len(Upstream.hits) == 2


def test_upstream_errors_pass_through_and_are_not_cached(proxy, tmp_path):
    server, port = proxy
    assert _get(server, f"http://127.0.0.1:{port}/pool/missing.deb")[0] == 404
    assert not list((tmp_path / "cache").rglob("*.deb"))


def test_other_hosts_and_path_tricks_are_refused(proxy):
    server, port = proxy
    assert _get(server, "http://elsewhere.test/debian/x.deb")[0] == 403
    assert _get(server, "https://127.0.0.1/x.deb")[0] == 403
    assert server.cache_path("127.0.0.1", "/a/../../etc/x.deb") is None



def _get_origin_form(proxy, path, host):
    conn = http.client.HTTPConnection(*proxy.server_address, timeout=5)
    conn.putrequest("GET", path, skip_host=True)
    if host is not None:
        conn.putheader("Host", host)
    conn.endheaders()
    resp = conn.getresponse()
    return resp.status, resp.read()


@pytest.fixture
def upstream_calls(proxy, monkeypatch):
    """Where the proxy connects: recorded, and port 80 (an archive's) sent to the test upstream."""
    server, upstream_port = proxy
    calls, real = [], http.client.HTTPConnection

    def connect(host, port=None, timeout=None):
        if port != server.server_address[1]:  # not the test's own request to the proxy
            calls.append((host, port))
        return real(host, upstream_port if port == 80 else port, timeout=timeout)

    monkeypatch.setattr(http.client, "HTTPConnection", connect)
    return calls


def test_origin_form_takes_the_archive_from_the_host_header(proxy, upstream_calls):
    # A client that resolved an archive name to the gateway (the lab's DNS) and asked it
    # directly: the path alone, the archive in Host, with the port it connected to (the proxy's).
    server, _ = proxy
    status, body = _get_origin_form(server, "/debian/pool/main/h/hello_1.deb", "127.0.0.1:3142")
    assert (status, body) == (200, b"content of /debian/pool/main/h/hello_1.deb")
    assert upstream_calls == [("127.0.0.1", 80)]  # the archive's port, not the proxy's


def test_origin_form_is_refused_for_other_hosts_or_no_host(proxy, upstream_calls):
    server, _ = proxy
    assert _get_origin_form(server, "/debian/x.deb", "elsewhere.test")[0] == 403
    assert _get_origin_form(server, "/debian/x.deb", None)[0] == 403
    assert _get_origin_form(server, "/debian/x.deb", "")[0] == 403
    assert upstream_calls == []


def test_a_port_that_is_no_number_is_refused(proxy, upstream_calls):
    server, _ = proxy
    assert _get(server, "http://127.0.0.1:99999/x.deb")[0] == 403
    assert _get(server, "http://127.0.0.1:port/x.deb")[0] == 403
    assert upstream_calls == []
