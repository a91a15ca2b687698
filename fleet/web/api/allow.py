"""A 405 names every method of its path in ``Allow``, not only the first route's.

FastAPI makes one route per method, and Starlette answers a method no route of a path takes
with the ``Allow`` of the first route whose path matched (``OPTIONS /api/v1/devices`` said
``Allow: POST``). This middleware rewrites that header from all routes of the path.
"""

from __future__ import annotations

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class AllowEveryMethod:
    """Pure ASGI middleware: on a 405, ``Allow`` lists the methods of every matching route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = allowed_methods(scope)
                if methods:
                    headers = [(k, v) for k, v in message.get("headers", [])
                               if k.lower() != b"allow"]
                    headers.append((b"allow", ", ".join(methods).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_allow)


#: The methods a route of the fleet may take (HEAD comes with GET).
METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def allowed_methods(scope: Scope) -> list[str]:
    """Every method some route of the app takes on this request's path."""
    routes = getattr(getattr(scope.get("app"), "router", None), "routes", [])
    return [method for method in METHODS
            if any(route.matches({**scope, "method": method})[0] == Match.FULL
                   for route in routes)]
