"""The log of a real ``agrifleet fleet serve`` specifies: every request has its access line,
but a secret in a query string (``?token=``, ``?access_token=``, ``?api_key=``, ``?password=``,
percent-encoded names too, ``?bearer=``) or a token, session id or invitation (``agf_``, ``agu_``,
``ags_``, ``agd_``, ``agi_``) anywhere in the URL shows as ``***``, and no
line holds a token sent in the ``Authorization`` header."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agrifleet.fleet.db import make_engine
from agrifleet.fleet.logs import redact
from agrifleet.fleet.migrate import upgrade
from agrifleet.fleet.people.auth import create_token
from tests.fleet.device import wait_until
from tests.services import free_port


@dataclass
class Served:
    base: str
    token: str
    process: subprocess.Popen[bytes]

    def stop(self) -> str:
        """Stop the server; its whole log (uvicorn and the fleet write to stderr)."""
        self.process.terminate()
        _, raw = self.process.communicate(timeout=30)
        return raw.decode()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The fleet served in a subprocess as an operator starts it, with an admin token."""
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    engine = make_engine(url)
    upgrade(engine)
    token = create_token(engine, "admin")
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGRIFLEET_")}
    env["AGRIFLEET_DATABASE_URL"] = url
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "agrifleet", "fleet", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    running = Served(f"http://127.0.0.1:{port}", token, process)
    try:
        wait_until(lambda: _up(running.base), timeout=30, what="the API to answer")
        yield running
    finally:
        if process.poll() is None:
            running.stop()


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        time.sleep(0.1)
        return False


def test_secrets_in_urls_and_headers_never_reach_the_log(served: Served) -> None:
    auth = {"Authorization": f"Bearer {served.token}"}
    asked = [
        ("/api/v1/devices?limit=5&token=SECRET-1", auth, 422),  # unknown parameter
        (f"/api/v1/devices?access_token={served.token}", {}, 401),  # not where tokens go
        ("/healthz?api_key=SECRET-2&x=1", {}, 200),
        ("/api/v1/devices/agf_SECRET-3", auth, 404),
        ("/api/v1/devices?limit=1", {"Authorization": "Bearer agf_SECRET-4"}, 401),
        ("/healthz?%74oken=SECRET-5", {}, 200),  # "token", percent-encoded
        ("/healthz?Password=SECRET-6", {}, 200),
        ("/healthz?q=agf_SECRET-7", {}, 200),
        ("/api/v1/devices/agu_SECRET-8", auth, 404),  # a personal token in a path
        ("/healthz?bearer=SECRET-9", {}, 200),
        ("/healthz?q=ags_SECRET-10", {}, 200),  # a session id under any name
    ]
    for path, headers, status in asked:
        assert httpx.get(served.base + path, headers=headers).status_code == status, path
    invitation = "/api/v1/invitations/agi_SECRET-11/accept"  # the secret is the link's path
    assert httpx.post(served.base + invitation).status_code == 401
    log = served.stop()
    for line in (
        '"GET /api/v1/devices?limit=5&token=*** HTTP/1.1" 422',
        '"GET /api/v1/devices?access_token=*** HTTP/1.1" 401',
        '"GET /healthz?api_key=***&x=1 HTTP/1.1" 200',
        '"GET /api/v1/devices/agf_*** HTTP/1.1" 404',
        '"GET /api/v1/devices?limit=1 HTTP/1.1" 401',
        '"GET /healthz?%74oken=*** HTTP/1.1" 200',
        '"GET /healthz?Password=*** HTTP/1.1" 200',
        '"GET /healthz?q=*** HTTP/1.1" 200',
        '"GET /api/v1/devices/agu_*** HTTP/1.1" 404',
        '"GET /healthz?bearer=*** HTTP/1.1" 200',
        '"POST /api/v1/invitations/agi_***/accept HTTP/1.1" 401',
    ):
        assert line in log, (line, log[-3000:])
    assert "SECRET" not in log, log[-3000:]
    assert served.token not in log and served.token[len("agf_"):] not in log


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /x?token=abc&limit=2", "GET /x?token=***&limit=2"),
        ("GET /x?limit=2&session_id=abc", "GET /x?limit=2&session_id=***"),
        ("GET /x?sig=agf%5Fabc", "GET /x?sig=***"),  # the prefix, percent-encoded
        ("GET /x?flag&token", "GET /x?flag&token"),  # names without values stay
        ('GET /x?a="&token=abc HTTP/1.1', 'GET /x?a="&token=*** HTTP/1.1'),  # a quote in a value
        ("GET /x?sensor=soil&quantity=moisture", "GET /x?sensor=soil&quantity=moisture"),
        ("GET /t/agu_abc-1/ags_def?bearer=x", "GET /t/agu_***/ags_***?bearer=***"),
        ("GET /x?q=agu%5Fabc&r=agd_x", "GET /x?q=***&r=***"),
        ("POST /api/v1/invitations/agi_a-B_c/accept", "POST /api/v1/invitations/agi_***/accept"),
        ('Did you mean "limit"?', 'Did you mean "limit"?'),
    ],
)
def test_redact_keeps_what_is_not_a_secret(line: str, expected: str) -> None:
    assert redact(line) == expected
