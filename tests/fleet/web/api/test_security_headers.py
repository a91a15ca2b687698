"""Every answer of the fleet (pages, API, static files, errors, API docs) carries a
Content-Security-Policy without ``unsafe-inline`` that forbids framing, X-Frame-Options DENY,
X-Content-Type-Options nosniff and a Referrer-Policy; map tiles are the only other origin."""

from __future__ import annotations

from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.web.api.headers import content_security_policy
from tests.fleet.conftest import FleetUnderTest, running_fleet
from tests.fleet.people.auth.people import add_user, signed_in

PATHS = ("/login", "/", "/alerts", "/docs", "/redoc", "/healthz", "/openapi.json",
         "/static/app.js", "/static/app.css", "/no-such-page", "/api/v1/devices",
         "/api/v1/devices?limit=0", "/api/v1/auth/me", "/api/v1/no-such-route")


def _directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";"))}


def test_every_answer_carries_the_security_headers(api: FleetUnderTest) -> None:
    add_user(api.app.state.engine, "ana@farm.example", {1: "viewer"})
    anonymous = {path: api.client.get(path, follow_redirects=False) for path in PATHS}
    signed_in(api.client, "ana@farm.example")
    signed = {path: api.client.get(path, follow_redirects=False) for path in PATHS}
    posted = api.client.post("/api/v1/devices", json={"id": "x"})  # 403: no CSRF token
    statuses = set()
    for label, response in [*anonymous.items(), *signed.items(), ("POST", posted)]:
        statuses.add(response.status_code)
        headers = response.headers
        assert headers.get("x-frame-options") == "DENY", label
        assert headers.get("x-content-type-options") == "nosniff", label
        assert headers.get("referrer-policy") == "same-origin", label
        policy = _directives(headers.get("content-security-policy", ""))
        assert policy["frame-ancestors"] == ["'none'"], label
        assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"], label
        assert policy["object-src"] == ["'none'"], label
        assert "'unsafe-inline'" not in headers["content-security-policy"], label
        assert "'unsafe-eval'" not in headers["content-security-policy"], label
    assert {200, 303, 401, 403, 404, 422} <= statuses  # pages, redirects and errors alike


def test_map_tiles_are_the_only_other_origin(database_url: str) -> None:
    settings = FleetSettings(database_url=database_url,
                             map_tile_url="https://user:pw@tiles.example:8443/{z}/{x}/{y}.png")
    with running_fleet(settings) as api:
        policy = _directives(api.client.get("/login").headers["content-security-policy"])
    assert policy["img-src"] == ["'self'", "data:", "blob:", "https://tiles.example:8443"]
    assert _directives(content_security_policy())["img-src"] == ["'self'", "data:", "blob:"]
