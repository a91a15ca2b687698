"""A small real HTTP server for the updater's tests: serves package archives with Range support.

It checks the bearer token, answers ``Range: bytes=N-`` with 206 and Content-Range, counts every
body byte it sends, and can be told to cut the connection after a number of bytes (a dropped
link) or to send the body slowly.
"""

from __future__ import annotations

import re
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agrifleet.provisioning.tls import TlsFiles

TOKEN = "download-token-0123456789"


class PackageServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.bytes_served = 0
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        #: Each response pops one entry: cut the connection after that many body bytes.
        self.drops: list[int] = []
        #: path → Location: answer 302 (a fleet that tries to send the token elsewhere).
        self.redirects: dict[str, str] = {}
        self.chunk = 8192
        self.lock = threading.Lock()

    scheme = "http"

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def add(self, path: str, data: bytes) -> str:
        self.files[path] = data
        return self.url(path)


class _Handler(BaseHTTPRequestHandler):
    server: PackageServer

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        srv = self.server
        rng = self.headers.get("Range")
        with srv.lock:
            srv.requests.append((self.path, rng))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_error(401, "bad token")
            return
        if self.path in srv.redirects:
            self.send_response(302)
            self.send_header("Location", srv.redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = srv.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if match:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        with srv.lock:
            limit = srv.drops.pop(0) if srv.drops else None
        sent = 0
        while sent < len(body):
            piece = body[sent:sent + srv.chunk]
            if limit is not None and sent + len(piece) > limit:
                piece = piece[:max(0, limit - sent)]
                self._send(piece)
                sent += len(piece)
                self.close_connection = True
                self.connection.close()
                return
            self._send(piece)
            sent += len(piece)

    def _send(self, piece: bytes) -> None:
        try:
            self.wfile.write(piece)
            self.wfile.flush()
        except OSError:
            return
        with self.server.lock:
            self.server.bytes_served += len(piece)


@contextmanager
def package_server(tls: TlsFiles | None = None) -> Iterator[PackageServer]:
    """Serve on 127.0.0.1; with ``tls``, https with that (private CA's) certificate."""
    server = PackageServer()
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.cert_file, tls.key_file)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.scheme = "https"
    thread = threading.Thread(target=server.serve_forever, name="package-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
