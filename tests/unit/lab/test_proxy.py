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
    thread = threading.Thread(target=server.serve_forever, daemon=True)
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
