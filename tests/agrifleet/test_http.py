"""The one HTTP client (agrifleet/http.py), against a real server on a thread: redirects are not
followed, credentials leave the URL for basic auth and never reach a log line, a refusal keeps
the server's JSON detail, a dropped body and an unreachable or untrusted server are one
HttpError each, and a private CA is trusted only when given."""

from __future__ import annotations

import json
import logging
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from agrifleet import http
from tests.services import free_port


class _Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/refused":
            body = json.dumps({"detail": "code expired"}).encode()
            self.send_response(410)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/cut":  # promises 1000 bytes, sends 300, hangs up
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 300)
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")


@contextmanager
def serving(context: ssl.SSLContext | None = None) -> Iterator[str]:
    _Handler.seen.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if context else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_redirect_is_an_error_and_is_not_followed() -> None:
    with (serving() as base, http.client(timeout_s=5) as client,
          pytest.raises(http.HttpError) as info):
        http.call(client, "GET", f"{base}/moved", headers={"Authorization": "Bearer t0k"})
    assert info.value.status == 302
    assert [path for path, _ in _Handler.seen] == ["/moved"]


def test_credentials_in_the_url_become_basic_auth_and_are_never_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with serving() as base:
        url = base.replace("://", "://admin:s%40cret@") + "/snap.jpg"
        bare, auth = http.split_credentials(url)
        with http.client(timeout_s=5, auth=auth) as client:
            assert http.call(client, "GET", bare).content == b"ok"
    assert bare == f"{base}/snap.jpg"
    assert _Handler.seen[0][1] == "Basic YWRtaW46c0BjcmV0"  # admin:s@cret
    assert "s@cret" not in http.shown(url) and "s%40cret" not in http.shown(url)
    assert "cret" not in caplog.text and "YWRtaW46" not in caplog.text


def test_a_refusal_keeps_the_status_phrase_and_json_detail() -> None:
    with (serving() as base, http.client(timeout_s=5) as client,
          pytest.raises(http.HttpError) as info):
        http.call(client, "GET", f"{base}/refused")
    error = info.value
    assert (error.status, error.phrase, error.detail) == (410, "Gone", "code expired")
    assert error.reason == "HTTP 410 Gone"


def test_a_body_cut_short_is_an_http_error_after_the_bytes_that_came() -> None:
    got = b""
    with (serving() as base, http.client(timeout_s=5) as client,
          pytest.raises(http.HttpError) as info,
          http.stream(client, "GET", f"{base}/cut") as response):
        for piece in http.body(response):
            got += piece
    assert got == b"x" * 300
    assert info.value.status is None and info.value.reason


def test_an_unreachable_server_is_one_error_with_the_reason() -> None:
    with http.client(timeout_s=2) as client, pytest.raises(http.HttpError) as info:
        http.call(client, "GET", f"http://127.0.0.1:{free_port()}/")
    assert info.value.status is None and not info.value.untrusted
    assert "refused" in info.value.reason.lower()


def test_a_private_ca_is_trusted_only_when_given(tmp_path: Path) -> None:
    from agrifleet.provisioning.tls import make_broker_certificates

    tls = make_broker_certificates(tmp_path / "tls", hosts=("127.0.0.1",))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    with serving(context) as base:
        with http.client(timeout_s=5) as client, pytest.raises(http.HttpError) as info:
            http.call(client, "GET", f"{base}/")
        assert info.value.untrusted and info.value.status is None
        with http.client(timeout_s=5, ca_file=tls.ca_file) as client:
            assert http.call(client, "GET", f"{base}/").content == b"ok"


def test_a_ca_file_that_cannot_be_read_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(http.HttpError, match=r"cannot use the CA file .*nope\.pem"):
        http.client(timeout_s=5, ca_file=tmp_path / "nope.pem")


def test_importing_the_agent_loads_no_http_library_until_a_call() -> None:
    import subprocess
    import sys

    code = ("import sys, edge.agent, edge.config, edge.enroll, agrifleet.fleet_client\n"
            "print('httpx' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "False"
