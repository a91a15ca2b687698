"""``/api/v1/auth``: sign in for the dashboard (session cookie), sign out, who am I.

The session cookie ``agrifleet_session`` is HttpOnly and SameSite=Lax (Secure over https or
with AGRIFLEET_COOKIE_SECURE). Unsafe requests made with it need the session's CSRF token in
the ``X-CSRF-Token`` header (or a ``csrf_token`` form field): the login answer and
``GET /auth/me`` give it, and so does the readable cookie ``agrifleet_csrf``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import ConfigDict
from sqlmodel import Field, Session, SQLModel, col, select

from fleet import audit
from fleet.api.deps import (
    AddressDep,
    CallerDep,
    SessionDep,
    SettingsDep,
    refuse_unknown_query,
)
from fleet.api.errors import UNAVAILABLE, too_large
from fleet.api.params import MAX_BODY_BYTES
from fleet.auth import throttle
from fleet.auth.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from fleet.auth.principal import Principal, user_principal
from fleet.auth.sessions import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    csrf_for,
    purge_expired,
    start_session,
)
from fleet.farms import memberships_of
from fleet.models import Message
from fleet.people import Me, MembershipPublic, User, UserPublic
from fleet.settings import FleetSettings

router = APIRouter(prefix="/auth", tags=["auth"])
#: Signing in needs no credentials: it is how one gets them.
login_router = APIRouter(prefix="/auth", tags=["auth"],
                         dependencies=[Depends(refuse_unknown_query)])


class LoginRequest(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


def user_public(session: Session, user: User) -> UserPublic:
    return UserPublic.model_validate(user, update={"memberships": [
        MembershipPublic.model_validate(m) for m in memberships_of(session, user.id or 0)]})


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


@login_router.post(
    "/login",
    responses={
        401: {"model": Message, "description": "Wrong e-mail or password, or the account is "
              "inactive"},
        429: {"model": Message, "description": "Too many failed sign-ins for this account or "
              "from this address: wait Retry-After seconds",
              "headers": {"Retry-After": {"schema": {"type": "string"}}}},
        **too_large(MAX_BODY_BYTES),
        **UNAVAILABLE,
    },
    summary="Sign in: sets the session cookie (and the readable CSRF cookie)",
    max_body_size=MAX_BODY_BYTES,
)
def login(body: LoginRequest, request: Request, response: Response, session: SessionDep,
          settings: SettingsDep, address: AddressDep) -> Me:
    email = body.email.strip().lower()
    account, origin = throttle.account_key(email), throttle.address_key(address)
    window = settings.login_window_s
    wait = max(throttle.retry_after(session, account, settings.login_max_failures, window) or 0,
               throttle.retry_after(session, origin, settings.login_max_failures_per_address,
                                    window) or 0)
    if wait:
        audit.record(session, email or "?", "login_throttled", email, address)
        session.commit()
        raise _too_many(wait)
    user = session.exec(select(User).where(col(User.email) == email)).first()
    ok = verify_password(user.password_hash if user is not None else dummy_hash(),
                         body.password)
    if user is None or not ok or not user.active:
        throttle.record_failure(session, account, origin)
        reason = "unknown account" if user is None else "inactive" if ok else "wrong password"
        audit.record(session, email or "?", "login_failed", email, address, reason=reason)
        session.commit()
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong e-mail or password",
                            headers={"WWW-Authenticate": "Bearer"})
    throttle.clear(session, account)
    throttle.purge_older_than(session, window)
    purge_expired(session)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(body.password)
        session.add(user)
    row, cookie = start_session(session, user.id or 0, settings.session_hours, address)
    audit.record(session, user.email, "login", user.email, address)
    session.commit()
    session.refresh(user)
    max_age = int(settings.session_hours * 3600)
    secure = _secure(request, settings)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=max_age, path="/", httponly=True,
                        samesite="lax", secure=secure)
    response.set_cookie(CSRF_COOKIE, csrf_for(cookie), max_age=max_age, path="/",
                        httponly=False, samesite="lax", secure=secure)
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
