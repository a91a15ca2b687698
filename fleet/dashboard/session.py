"""Who is signed in to the dashboard: the ONE module that knows how people and sessions work.

Stand-in until the fleet has users, farms and sessions (issue 10): people are registered with
:func:`add_user` (kept in memory, passwords hashed with argon2), a sign-in gives an HttpOnly
session cookie and a readable CSRF cookie, and the dashboard's browser code calls the REST API
with that cookie and an ``X-CSRF-Token`` header — the same calls it will make once the API
itself accepts sessions. Until then :class:`ApiBridge` turns a signed-in browser's API call into
a call with an API token of the person's role (created at sign-in, kept only in memory).
Everyone belongs to one farm; a device's field is its ``field:<name>`` tag.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from fleet.auth import create_token

SESSION_COOKIE = "agrifleet_session"
CSRF_COOKIE = "agrifleet_csrf"
CSRF_HEADER = "x-csrf-token"
ROLES = ("viewer", "technician", "admin")
DEFAULT_FARM = 1
_hasher = PasswordHasher()


@dataclass
class Principal:
    """A signed-in person: their role in each farm they belong to, and the farm in view."""

    email: str
    roles: dict[int, str]
    farm_id: int
    csrf: str
    language: str | None = None
    farm_names: dict[int, str] = field(default_factory=dict)

    @property
    def role(self) -> str:
        return self.roles.get(self.farm_id, "viewer")

    @property
    def is_technician(self) -> bool:
        return self.role in ("technician", "admin")


@dataclass
class _User:
    email: str
    password_hash: str
    role: str
    language: str | None = None


@dataclass
class _Session:
    email: str
    csrf: str
    token: str  # an API token of the person's role, only ever in memory


@dataclass
class _Store:
    users: dict[str, _User] = field(default_factory=dict)
    sessions: dict[str, _Session] = field(default_factory=dict)  # sha256(cookie) → session
    lock: threading.Lock = field(default_factory=threading.Lock)


def _store(app: Any) -> _Store:
    store: _Store | None = getattr(app.state, "dashboard_people", None)
    if store is None:
        store = app.state.dashboard_people = _Store()
    return store


def _key(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def add_user(app: FastAPI, email: str, password: str, role: str) -> None:
    """Register a person of the (one) farm with ``role``; the password is kept hashed."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    store = _store(app)
    with store.lock:
        store.users[email.strip().lower()] = _User(email.strip(), _hasher.hash(password), role)


def sign_in(request: Request, email: str, password: str) -> tuple[str, str] | None:
    """(session cookie, csrf token) for the right password, else None."""
    store = _store(request.app)
    user = store.users.get(email.strip().lower())
    if user is None:
        _hasher.hash(password)  # the same work as a real check, so timing tells nothing
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    token = create_token(request.app.state.engine, user.role, name=f"dashboard {user.email}")
    with store.lock:
        store.sessions[_key(cookie)] = _Session(user.email, csrf, token)
    return cookie, csrf


def sign_out(request: Request) -> None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with _store(request.app).lock:
            _store(request.app).sessions.pop(_key(cookie), None)


def _session(app: Any, cookie: str | None) -> _Session | None:
    if not cookie or len(cookie) > 200:
        return None
    return _store(app).sessions.get(_key(cookie))


def current(request: Request) -> Principal | None:
    """The signed-in person, or None."""
    found = _session(request.app, request.cookies.get(SESSION_COOKIE))
    if found is None:
        return None
    user = _store(request.app).users.get(found.email.lower())
    if user is None:
        return None
    return Principal(email=user.email, roles={DEFAULT_FARM: user.role}, farm_id=DEFAULT_FARM,
                     csrf=found.csrf, language=user.language,
                     farm_names={DEFAULT_FARM: "Default farm"})


def remember_language(request: Request, principal: Principal, lang: str) -> None:
    """Keep the person's language choice (on the user, so every browser of theirs gets it)."""
    user = _store(request.app).users.get(principal.email.lower())
    if user is not None:
        user.language = lang


def csrf_ok(principal: Principal, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(principal.csrf, presented or "")


def field_of(tags: list[str]) -> str | None:
    """The field a device stands in (its ``field:<name>`` tag), or None."""
    for tag in tags:
        if tag.startswith("field:") and len(tag) > 6:
            return tag[6:]
    return None


class ApiBridge:
    """ASGI middleware: a browser's /api/v1 call with a session cookie and no Authorization
    header gets the session's token; an unsafe one without the right X-CSRF-Token is a 403."""

    def __init__(self, app: ASGIApp, fleet: FastAPI) -> None:
        self.app = app
        self.fleet = fleet

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/v1/"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if b"authorization" in headers:
            await self.app(scope, receive, send)
            return
        cookie = _cookie(headers.get(b"cookie", b"").decode("latin-1"), SESSION_COOKIE)
        found = _session(self.fleet, cookie)
        if found is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            presented = headers.get(CSRF_HEADER.encode(), b"").decode("latin-1")
            if not presented or not hmac.compare_digest(found.csrf, presented):
                await _refuse(send, b'{"detail":"missing or wrong CSRF token"}')
                return
        scope = dict(scope)
        scope["headers"] = [*scope["headers"], (b"authorization", f"Bearer {found.token}".encode())]
        await self.app(scope, receive, send)


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


async def _refuse(send: Send, body: bytes) -> None:
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def install(app: FastAPI) -> None:
    """Make the REST API usable from a signed-in browser (stand-in: see the module's doc)."""
    app.add_middleware(ApiBridge, fleet=app)
