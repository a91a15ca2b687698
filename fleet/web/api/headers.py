"""Security headers on every answer (pages, API, static files, errors): a Content-Security-
Policy without ``unsafe-inline`` that no other site may frame, X-Frame-Options, nosniff and a
same-origin Referrer-Policy.

The dashboard's scripts and styles are static files (``/static``); its only inline
``<script>`` is a ``type="application/json"`` data block, which a browser never runs. Map
tiles (AGRIFLEET_MAP_TILE_URL) are the one thing loaded from another origin.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def content_security_policy(map_tile_url: str | None = None) -> str:
    """The policy: everything from the fleet itself, images also from the map tile server."""
    images = "'self' data: blob:"
    if map_tile_url:
        parts = urlsplit(map_tile_url)
        if parts.scheme in ("http", "https") and parts.hostname:
            images += f" {parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src {images}",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


class SecurityHeaders:
    """ASGI middleware adding the headers to every HTTP answer that does not set its own."""

    def __init__(self, app: ASGIApp, map_tile_url: str | None = None) -> None:
        self.app = app
        self.headers: list[tuple[bytes, bytes]] = [
            (b"content-security-policy", content_security_policy(map_tile_url).encode()),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                present = {name.lower() for name, _ in raw}
                raw.extend(h for h in self.headers if h[0] not in present)
                message = {**message, "headers": raw}
            await send(message)

        await self.app(scope, receive, send_with_headers)
