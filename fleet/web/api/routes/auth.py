"""``/api/v1/auth``: sign in for the dashboard (session cookie), sign out, who am I.

Failed sign-ins are slowed with growing waits per account and per address, never for a
browser that signed in as that person before (the HttpOnly ``agrifleet_device`` cookie); see
:mod:`fleet.people.auth.throttle`. Each attempt is in the audit log and counted in ``/metrics``.

The session cookie ``agrifleet_session`` is HttpOnly and SameSite=Lax (Secure over https or
with AGRIFLEET_COOKIE_SECURE). Unsafe requests made with it need the session's CSRF token in
the ``X-CSRF-Token`` header (or a ``csrf_token`` form field): the login answer and
``GET /auth/me`` give it, and so does the readable cookie ``agrifleet_csrf``.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import ConfigDict
from sqlmodel import Field, Session, SQLModel, col, select

from agrifleet.fleet.metrics import Metrics
from agrifleet.fleet.people import audit
from agrifleet.fleet.people.auth import devices, throttle
from agrifleet.fleet.people.auth.passwords import (
    dummy_hash,
    hash_password,
    needs_rehash,
    verify_password,
)
from agrifleet.fleet.people.auth.principal import Principal, user_principal
from agrifleet.fleet.people.auth.sessions import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    csrf_for,
    purge_expired,
    start_session,
)
from agrifleet.fleet.people.farms import memberships_of
from agrifleet.fleet.people.tables import Me, MembershipPublic, User, UserPublic
from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.web.api.deps import (
    AddressDep,
    CallerDep,
    SessionDep,
    SettingsDep,
    refuse_unknown_query,
)
from agrifleet.fleet.web.api.errors import UNAVAILABLE, Message, too_large
from agrifleet.fleet.web.api.params import MAX_BODY_BYTES, NO_NUL

log = logging.getLogger(__name__)

router = APIRouter(prefix="/auth", tags=["auth"])
#: Signing in needs no credentials: it is how one gets them.
login_router = APIRouter(prefix="/auth", tags=["auth"],
                         dependencies=[Depends(refuse_unknown_query)])


class LoginRequest(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    email: str = Field(max_length=254, schema_extra={"pattern": NO_NUL})
    password: str = Field(max_length=1024, schema_extra={"pattern": NO_NUL})


def user_public(session: Session, user: User, caller: Principal | None = None) -> UserPublic:
    """The user with their memberships; shown to a farm admin who is not that user, only the
    memberships in farms the admin runs (the rest is other farms' business)."""
    rows = memberships_of(session, user.id or 0)
    if caller is not None and caller.kind == "user" and (
            caller.user is None or caller.user.id != user.id):
        admin_of = caller.farms_with("admin") or set()
        rows = [m for m in rows if m.farm_id in admin_of]
    return UserPublic.model_validate(user, update={"memberships": [
        MembershipPublic.model_validate(m) for m in rows]})


def me(session: Session, caller: Principal, cookie: str | None = None) -> Me:
    """What the caller is: a user with memberships and language, or a service token."""
    if caller.user is None:
        return Me(kind="service", name=caller.label, role=caller.service_role)
    cookie = cookie or caller.cookie
    return Me(kind="user", name=caller.user.email, user=user_public(session, caller.user),
              language=caller.user.language, csrf_token=csrf_for(cookie) if cookie else None)


def _too_many(seconds: int) -> HTTPException:
    return HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                         f"too many failed sign-ins: try again in {seconds} s",
                         headers={"Retry-After": str(seconds)})


def _secure(request: Request, settings: FleetSettings) -> bool:
    """Over https, as the fleet or a trusted proxy (X-Forwarded-Proto) saw it, or configured."""
    peer = request.client.host if request.client is not None else None
    proxied = (peer is not None and audit.is_trusted(peer, settings.trusted_proxies)
               and request.headers.get("x-forwarded-proto", "").lower() == "https")
    return settings.cookie_secure or request.url.scheme == "https" or proxied


def _rules(settings: FleetSettings) -> tuple[throttle.Backoff, throttle.Backoff]:
    """The back-off of an account (and of a known device), and of an address."""
    account = throttle.Backoff(settings.login_max_failures, settings.login_delay_s,
                               settings.login_max_delay_s, settings.login_window_s)
    address = throttle.Backoff(settings.login_max_failures_per_address, settings.login_delay_s,
                               settings.login_max_delay_s, settings.login_window_s)
    return account, address


@login_router.post(
    "/login",
    responses={
        401: {"model": Message, "description": "Wrong e-mail or password, or the account is "
              "inactive"},
        429: {"model": Message, "description": "Too many failed sign-ins for this account or "
              "from this address (or, from a known browser, from that browser): wait "
              "Retry-After seconds; the wait doubles with each further failure",
              "headers": {"Retry-After": {"schema": {"type": "string"}}}},
        **too_large(MAX_BODY_BYTES),
        **UNAVAILABLE,
    },
    summary="Sign in: sets the session cookie (and the readable CSRF cookie, and the device "
    "cookie that marks this browser as known)",
    max_body_size=MAX_BODY_BYTES,
)
def login(body: LoginRequest, request: Request, response: Response, session: SessionDep,
          settings: SettingsDep, address: AddressDep) -> Me:
    metrics: Metrics = request.app.state.metrics
    email = body.email.strip().lower()
    user = session.exec(select(User).where(col(User.email) == email)).first()
    known = (devices.recognise(session, request.cookies.get(devices.DEVICE_COOKIE),
                               user.id or 0, settings.device_cookie_days)
             if user is not None else None)
    account_rule, address_rule = _rules(settings)
    judged = ([(throttle.device_key(known.id or 0), account_rule)] if known is not None else
              [(throttle.account_key(email), account_rule),
               (throttle.address_key(address), address_rule)])
    device = "known" if known is not None else "new"
    wait = max(throttle.retry_after(session, key, rule) or 0 for key, rule in judged)
    if wait:
        audit.record(session, email or "?", "login_throttled", email, address, device=device,
                     retry_after=wait)
        session.commit()
        metrics.sign_in("throttled")
        log.info("sign-in held %d s: %s from %s (%s device)", wait,
                 f"user {user.id}" if user is not None else "unknown account", address, device)
        raise _too_many(wait)
    ok = verify_password(user.password_hash if user is not None else dummy_hash(),
                         body.password)
    if user is None or not ok or not user.active:
        throttle.record_failure(session, *(key for key, _ in judged))
        reason = "unknown account" if user is None else "inactive" if ok else "wrong password"
        audit.record(session, email or "?", "login_failed", email, address, reason=reason,
                     device=device)
        session.commit()
        metrics.sign_in("failed")
        log.info("sign-in failed: %s from %s (%s, %s device)",
                 f"user {user.id}" if user is not None else "unknown account", address,
                 reason, device)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong e-mail or password",
                            headers={"WWW-Authenticate": "Bearer"})
    throttle.clear(session, judged[0][0])  # the device's or the account's, not the address's
    throttle.purge_older_than(session, settings.login_window_s)
    purge_expired(session)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(body.password)
        session.add(user)
    row, cookie = start_session(session, user.id or 0, settings.session_hours, address)
    device_cookie = devices.remember(session, user.id or 0, known)
    audit.record(session, user.email, "login", user.email, address, device=device)
    session.commit()
    session.refresh(user)
    metrics.sign_in("ok")
    max_age = int(settings.session_hours * 3600)
    secure = _secure(request, settings)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=max_age, path="/", httponly=True,
                        samesite="lax", secure=secure)
    response.set_cookie(CSRF_COOKIE, csrf_for(cookie), max_age=max_age, path="/",
                        httponly=False, samesite="lax", secure=secure)
    response.set_cookie(devices.DEVICE_COOKIE, device_cookie, path="/", httponly=True,
                        max_age=int(settings.device_cookie_days * 86400), samesite="lax",
                        secure=secure)
    return me(session, user_principal(session, user, "session", row), cookie)


@router.post("/logout", summary="Sign out: ends the session and clears its cookies")
def logout(caller: CallerDep, request: Request, response: Response, session: SessionDep,
           settings: SettingsDep, address: AddressDep) -> Message:
    if caller.session_row is not None:
        row = session.merge(caller.session_row)
        session.delete(row)
    audit.record(session, caller, "logout", caller.label, address, via=caller.via)
    session.commit()
    secure = _secure(request, settings)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=secure)
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="lax", secure=secure)
    return Message(detail="signed out")


@router.get("/me", summary="Who is calling: the user, their farms and roles, language, CSRF "
            "token; or the service token's role")
def get_me(caller: CallerDep, session: SessionDep) -> Me:
    return me(session, caller)
