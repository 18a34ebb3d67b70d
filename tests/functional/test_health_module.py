"""The health module through Salt's loader, probing servers started by the test on loopback:
HTTP status without following redirects, body match, TLS certificate expiry, timeouts that run
side by side. Read-only: nothing on this machine is changed."""

import datetime
import http.server
import socket
import ssl
import threading

import jsonschema
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from salt.exceptions import CommandExecutionError


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the stdlib's name
        if self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/")
            self.end_headers()
            return
        body = b"service ready\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _serve(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture
def web():
    server = _serve(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler))
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _certificate(tmp_path, days):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days)).sign(key, hashes.SHA256()))
    pem = tmp_path / f"cert-{days}.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return pem


@pytest.fixture
def tls_web(tmp_path):
    servers = []

    def start(days):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(_certificate(tmp_path, days))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        servers.append(_serve(server))
        return f"https://127.0.0.1:{server.server_port}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_port():
    """A port that accepts connections (the kernel's backlog does) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    yield sock.getsockname()[1]
    sock.close()


def _one(results, name):
    return next(r for r in results if r["name"] == name)


def test_http_status_body_and_redirect_as_answered(loaders, web):
    endpoint = loaders["health.endpoint"]
    (ok,) = endpoint("app", url=f"{web}/", body_match="^service ready")
    assert ok["status"] == "pass" and ok["observed"] == {"status": 200}
    (moved,) = endpoint("moved", url=f"{web}/moved", status=[200])
    assert moved["status"] == "fail" and moved["observed"] == {"status": 301}
    assert "expected one of [200]" in moved["message"]
    (accepted,) = endpoint("moved", url=f"{web}/moved", status=[200, 301])
    assert accepted["status"] == "pass"
    (body,) = endpoint("app", url=f"{web}/", body_match="^maintenance")
    assert body["status"] == "fail" and "body does not match" in body["message"]


def test_tls_certificate_days_to_expiry(loaders, tls_web):
    endpoint = loaders["health.endpoint"]
    fresh = endpoint("fresh", url=tls_web(90), verify_tls=False)
    assert [r["status"] for r in fresh] == ["pass", "pass"]
    assert 89 <= _one(fresh, "tls:fresh")["observed"]["days_left"] <= 90
    soon = endpoint("soon", url=tls_web(10), verify_tls=False)
    assert _one(soon, "tls:soon")["status"] == "warn"
    expiring = endpoint("expiring", url=tls_web(3), verify_tls=False, cert_critical_days=7)
    assert _one(expiring, "tls:expiring")["status"] == "fail"
    # Verification is on by default: a self-signed certificate is refused.
    (refused,) = endpoint("strict", url=tls_web(90))
    assert refused["status"] == "fail" and "CERTIFICATE_VERIFY_FAILED" in refused["message"]


def test_tcp_closed_port_and_missing_things(loaders, silent_port, monkeypatch, tmp_path):
    (up,) = loaders["health.endpoint"]("listener", tcp=f"127.0.0.1:{silent_port}")
    assert up["status"] == "pass"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    (down,) = loaders["health.endpoint"]("closed", tcp=f"127.0.0.1:{closed}", timeout_s=1)
    assert down["status"] == "fail"
    # A runtime that is not installed: fail when mandatory, skip when optional; no exception.
    monkeypatch.setenv("PATH", str(tmp_path))
    (docker,) = loaders["health.runtime"]("docker", mandatory=False)
    assert docker["status"] == "skip"
    (required,) = loaders["health.runtime"]("docker", mandatory=True)
    assert required["status"] == "fail" and "not installed" in required["message"]


def test_silent_endpoints_cost_one_timeout_not_their_sum(loaders, silent_port, web, schema):
    endpoints = {f"silent-{i}": {"url": f"http://127.0.0.1:{silent_port}/{i}", "timeout_s": 1}
                 for i in range(20)}
    endpoints.update({f"live-{i}": {"url": f"{web}/"} for i in range(20)})
    summary = loaders["health.check"](run_id="concurrency", checks={
        "use_defaults": False, "endpoints": endpoints, "disks": {"/": {}}})
    jsonschema.validate(summary, schema("health-check.v1.json"))
    silent = [c for c in summary["checks"] if c["name"].startswith("endpoint:silent-")]
    assert len(silent) == 20 and all(c["status"] == "fail" for c in silent)
    assert all("no answer within 1s" in c["message"] for c in silent)
    # Twenty one-second timeouts in sequence would take 20 s.
    assert summary["duration_ms"] < 5000, summary["duration_ms"]
    assert summary["counts"]["pass"] >= 20


def test_bad_input_is_a_clear_error(loaders):
    with pytest.raises(CommandExecutionError, match="exactly one of url or tcp"):
        loaders["health.endpoint"]("both", url="http://127.0.0.1/", tcp="127.0.0.1:80")
    with pytest.raises(CommandExecutionError, match="warn .* <= critical"):
        loaders["health.disk"]({"/": {"warn": 95, "critical": 90}})
    with pytest.raises(CommandExecutionError, match="run_id"):
        loaders["health.check"](run_id="../escape")
    with pytest.raises(CommandExecutionError, match="unknown container runtime"):
        loaders["health.runtime"]("lxc")
    with pytest.raises(CommandExecutionError, match="not an http"):
        loaders["health.endpoint"]("ftp", url="ftp://127.0.0.1/")
