"""In a real browser the dashboard works under its Content-Security-Policy: signed-in pages
load and run their scripts and styles with no policy violation, and a page of another origin
(another port of the same host) that frames a signed-in page gets nothing shown in the frame."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fleet.web.dashboard.conftest import Site
from tests.services import free_port

PAGES = ("/", "/alerts", "/detections", "/scouting", "/models", "/docs")


def _violations(page: Any) -> list[str]:
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text)
            if "Content Security Policy" in m.text or "Refused to" in m.text else None)
    page.on("pageerror", lambda e: found.append(f"error: {e}"))
    return found


def test_pages_run_their_scripts_and_styles_with_no_policy_violation(
        site: Site, page: Any) -> None:
    found = _violations(page)
    site.login(page)
    for path in PAGES:
        page.goto(site.url + path)
        page.wait_for_load_state("networkidle")
        if path != "/docs":  # the dashboard's own stylesheet and script are applied and run
            assert page.evaluate("getComputedStyle(document.querySelector('header.top'))"
                                 ".display") != "inline", path
    page.goto(site.url + "/")
    page.locator("section.field").first.wait_for(timeout=30_000)
    assert page.locator("#swagger-ui").count() == 0
    page.goto(site.url + "/docs")
    page.locator(".swagger-ui .info").first.wait_for(timeout=30_000)  # Swagger UI's script ran
    assert not found, found


@pytest.fixture
def framing_page(site: Site) -> Iterator[str]:
    """A page of another origin (another port of 127.0.0.1) framing the signed-in /alerts."""
    html = (f'<!doctype html><title>evil</title><iframe id="f" src="{site.url}/alerts" '
            'width="800" height="600"></iframe>').encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_another_origin_cannot_frame_a_signed_in_page(site: Site, page: Any,
                                                      framing_page: str) -> None:
    site.login(page)
    page.goto(site.url + "/alerts")
    assert page.locator("h1").inner_text()  # the page itself shows, signed in
    page.goto(framing_page)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)
    frames = [f for f in page.frames if f != page.main_frame]
    assert frames, "the framing page has its iframe"
    from playwright.sync_api import Error

    shown = ""
    for frame in frames:
        with contextlib.suppress(Error):  # a blocked frame may have no document to read
            shown += frame.evaluate("document.body ? document.body.innerText : ''")
    assert "Alerts" not in shown and "agrifleet" not in shown, shown
