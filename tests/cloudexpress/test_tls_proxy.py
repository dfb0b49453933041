"""The repository's nginx configuration, started on loopback with a
throwaway certificate in front of the app: TLS 1.3 only, HTTP redirected."""

from __future__ import annotations

import http.client
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.support.processes import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def proxy(tmp_path: Path, live_server):
    yield from _proxy(tmp_path, live_server.url.removeprefix("http://"))


def _proxy(tmp_path: Path, backend: str):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("nginx is not installed (Debian package nginx)")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(tmp_path / "server.key"),
            "-out",
            str(tmp_path / "server.crt"),
        ],
        check=True,
        capture_output=True,
    )
    http_port, https_port = _free_port(), _free_port()
    site = (ROOT / "deploy/nginx/cloudexpress.conf").read_text()
    site = site.replace("server web:8000;", f"server {backend};")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    site = site.replace("/etc/nginx/certs/", f"{tmp_path}/")
    (tmp_path / "site.conf").write_text(site)
    temp = tmp_path / "temp"
    temp.mkdir()
    (tmp_path / "nginx.conf").write_text(
        f"daemon off;\nworker_processes 1;\npid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log warn;\nevents {{ worker_connections 64; }}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {temp}/body;\n"
        f"  proxy_temp_path {temp}/proxy;\n  fastcgi_temp_path {temp}/fastcgi;\n"
        f"  uwsgi_temp_path {temp}/uwsgi;\n  scgi_temp_path {temp}/scgi;\n"
        f"  include {tmp_path}/site.conf;\n}}\n"
    )
    proc = subprocess.Popen(
        [nginx, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", https_port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"nginx did not start: {proc.stderr.read().decode()}")
            time.sleep(0.1)
    try:
        yield {"http": http_port, "https": https_port, "cert": tmp_path / "server.crt"}
    finally:
        proc.terminate()
        proc.wait(10)


def _context(cert: Path, version: ssl.TLSVersion) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cert)
    context.minimum_version = version
    context.maximum_version = version
    return context


def test_tls13_is_accepted_and_reaches_the_app(proxy) -> None:
    context = _context(proxy["cert"], ssl.TLSVersion.TLSv1_3)
    conn = http.client.HTTPSConnection("localhost", proxy["https"], context=context, timeout=10)
    conn.request("GET", "/healthz", headers={"X-Forwarded-For": "6.6.6.6"})
    response = conn.getresponse()
    assert response.status == 200
    assert conn.sock.version() == "TLSv1.3"
    assert "max-age=63072000" in response.getheader("Strict-Transport-Security")
    # The proxy sets the request id, which the app echoes back.
    assert re.fullmatch(r"[0-9a-f]{32}", response.getheader("X-Request-ID"))


def test_tls12_is_refused_by_the_proxy(proxy) -> None:
    context = _context(proxy["cert"], ssl.TLSVersion.TLSv1_2)
    with pytest.raises(ssl.SSLError, match="(?i)protocol version|unsupported protocol"):
        with socket.create_connection(("127.0.0.1", proxy["https"]), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="localhost"):
                pass


def test_plain_http_redirects_to_https(proxy) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy["http"], timeout=10)
    conn.request("GET", "/compliance/?x=1", headers={"Host": "portal.example.test"})
    response = conn.getresponse()
    assert response.status == 301
    assert response.getheader("Location") == "https://portal.example.test/compliance/?x=1"


# A WebSocket text frame the fake app sends once the tunnel is open.
FRAME = b"\x81\x0cfrom the app"


class _FakeWebSocketApp:
    """A one-connection upstream on loopback that answers a WebSocket
    upgrade with 101 when the proxy passed the upgrade on, and records the
    request head it received."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.server.settimeout(15)
        self.port = int(self.server.getsockname()[1])
        self.head = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.server.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            while b"\r\n\r\n" not in self.head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                self.head += chunk
            lower = self.head.lower()
            if b"upgrade: websocket" in lower and b"connection: upgrade" in lower:
                conn.sendall(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Accept: test\r\n\r\n"
                )
                # One frame back through the tunnel: the connection stays open.
                conn.sendall(FRAME)
            else:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    def close(self) -> None:
        self.server.close()
        self.thread.join(5)


def test_websocket_upgrade_travels_as_wss_through_the_proxy(tmp_path: Path) -> None:
    app = _FakeWebSocketApp()
    running = _proxy(tmp_path, f"127.0.0.1:{app.port}")
    try:
        proxy = next(running)
        context = _context(proxy["cert"], ssl.TLSVersion.TLSv1_3)
        with socket.create_connection(("127.0.0.1", proxy["https"]), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(
                    b"GET /ws/dashboard/ HTTP/1.1\r\nHost: localhost\r\n"
                    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    b"Sec-WebSocket-Version: 13\r\n\r\n"
                )
                received = b""
                while not received.endswith(FRAME):
                    chunk = tls.recv(4096)
                    if not chunk:
                        break
                    received += chunk
                assert tls.version() == "TLSv1.3"
        assert received.startswith(b"HTTP/1.1 101")
        assert received.endswith(FRAME)
        # The app saw the upgrade, and that it came in over https.
        head = app.head.lower()
        assert b"upgrade: websocket" in head and b"x-forwarded-proto: https" in head
    finally:
        running.close()  # stops nginx
        app.close()
