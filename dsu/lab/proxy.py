"""A small caching HTTP proxy on the lab bridge: the only way lab hosts reach the package mirror.

Lab hosts live in their own network namespaces with no route out. apt in each host is pointed at
this proxy, which forwards plain-HTTP GET/HEAD requests to the hosts the machine's own apt sources
name (nothing else), and keeps every fetched .deb so each package is downloaded once per machine.
"""

import http.client
import os
import shutil
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

PASS_REQUEST_HEADERS = ("If-Modified-Since", "If-None-Match", "Range", "Cache-Control")
PASS_RESPONSE_HEADERS = ("Content-Type", "Last-Modified", "ETag", "Content-Range", "Accept-Ranges")
UPSTREAM_TIMEOUT = 60


class CachingProxy(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's listen backlog of 5 drops the SYNs of many hosts' apt starting at once
    # (the fleet benchmark boots ten); dropped SYNs end as apt's "connection timed out".
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], cache: Path, allowed_hosts: set[str]) -> None:
        super().__init__(address, _Handler)
        self.cache = cache
        self.allowed_hosts = allowed_hosts
        self.cache.mkdir(parents=True, exist_ok=True)

    def cache_path(self, host: str, path: str) -> Path | None:
        """Where a package would be kept; None for anything that must always be fetched."""
        if not path.endswith(".deb") or ".." in path.split("/"):
            return None
        return self.cache / host / path.lstrip("/")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CachingProxy

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # apt's own output says what was fetched; keep the proxy quiet

    def do_GET(self) -> None:  # noqa: N802
        self._forward(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._forward(send_body=False)

    def _target(self) -> SplitResult | None:
        """The URL asked for. apt talking to a proxy sends the absolute form
        (`GET http://deb.debian.org/debian/...`); a client that resolved an archive name to the
        gateway through the lab's DNS and asked it directly sends the origin form
        (`GET /debian/...`) with the archive in its Host header, whose port is the proxy's own."""
        try:
            if self.path.startswith("/"):
                host = urlsplit(f"//{self.headers.get('Host', '')}").hostname
                return urlsplit(f"http://{host}{self.path}") if host else None
            url = urlsplit(self.path)
            url.port  # noqa: B018 - raises ValueError for a port that is not a number
            return url
        except ValueError:
            return None

    def _forward(self, send_body: bool) -> None:
        url = self._target()
        if url is None or url.scheme != "http" or url.hostname not in self.server.allowed_hosts:
            self.send_error(403, "the lab proxy only forwards to this machine's apt mirrors")
            return
        cached = self.server.cache_path(url.hostname, url.path)
        if cached and cached.is_file() and "Range" not in self.headers:
            self._send_file(cached, send_body)
            return
        try:
            self._fetch(url, cached, send_body)
        except (OSError, http.client.HTTPException) as exc:
            self.send_error(502, f"upstream failed: {exc}")

    def _fetch(self, url: SplitResult, cached: Path | None, send_body: bool) -> None:
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=UPSTREAM_TIMEOUT)
        target = url.path + (f"?{url.query}" if url.query else "")
        headers = {h: self.headers[h] for h in PASS_REQUEST_HEADERS if self.headers.get(h)}
        conn.request(self.command, target, headers=headers)
        resp = conn.getresponse()
        if cached and resp.status == 200 and self.command == "GET":
            cached.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=".part-")
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(resp, out)
            os.replace(tmp, cached)
            conn.close()
            self._send_file(cached, send_body)
            return
        body = resp.read()
        conn.close()
        self.send_response(resp.status)
        for name in PASS_RESPONSE_HEADERS:
            if resp.getheader(name):
                self.send_header(name, resp.getheader(name))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _send_file(self, path: Path, send_body: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.debian.binary-package")
        self.send_header("Content-Length", str(path.stat().st_size))
        self.end_headers()
        if send_body:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, self.wfile)


def serve(address: str, port: int, cache: Path, allowed_hosts: set[str],
          ready: threading.Event | None = None) -> None:
    server = CachingProxy((address, port), cache, allowed_hosts)
    if ready:
        ready.set()
    try:
        server.serve_forever()
    finally:
        server.server_close()
