"""``/api/v1/tokens``: personal API tokens. A signed-in user makes one (shown once, stored
hashed, with an expiry); it carries its owner's roles. The owner, an admin who manages the
owner, or a service admin token lists and revokes them.

A token made with a token (not a session) is its child: it expires no later than its parent
and is revoked with it. Each role has a longest lifetime (AGRIFLEET_TOKEN_MAX_DAYS_<ROLE>, the
owner's highest role counts); asking for more is a 422, not silently shortened."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status
from sqlmodel import col, select

from agrifleet.fleet.people import audit
from agrifleet.fleet.people.auth.tokens import new_personal_token, revoke_with_descendants
from agrifleet.fleet.people.farms import is_service_admin, manages_user
from agrifleet.fleet.people.tables import (
    UserToken,
    UserTokenCreate,
    UserTokenCreated,
    UserTokenPublic,
)
from agrifleet.fleet.settings import token_max_days
from agrifleet.fleet.web.api.deps import AddressDep, CallerDep, SessionDep, SettingsDep
from agrifleet.fleet.web.api.errors import Message, too_large
from agrifleet.fleet.web.api.params import MAX_BODY_BYTES

router = APIRouter(prefix="/tokens", tags=["tokens"])

TokenId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Token id")]


@router.post("", status_code=status.HTTP_201_CREATED, responses=too_large(MAX_BODY_BYTES),
             summary="Make a personal API token (signed-in users); the answer's token is shown "
             "only this once", max_body_size=MAX_BODY_BYTES)
def create_personal_token(body: UserTokenCreate, session: SessionDep, caller: CallerDep,
                          settings: SettingsDep, address: AddressDep) -> UserTokenCreated:
    if caller.user is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "personal tokens belong to users: sign "
                            "in (a script can use its service token as it is)")
    role = caller.best_role()
    longest = token_max_days(settings, role)
    if body.expires_days is not None and body.expires_days > longest:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"expires_days {body.expires_days} is longer than a "
                            f"{role or 'viewer'}'s personal token may live ({longest} days)")
    parent = caller.token_row if isinstance(caller.token_row, UserToken) else None
    row, secret = new_personal_token(caller.user.id or 0, body.name,
                                     body.expires_days or longest, parent)
    session.add(row)
    session.flush()
    audit.record(session, caller, "token.create", f"token {row.id}", address, name=body.name,
                 expires_at=row.expires_at.isoformat(), parent=row.parent_id)
    session.commit()
    session.refresh(row)
    return UserTokenCreated.model_validate(row, update={"token": secret})


@router.get("", summary="The caller's personal tokens (a service admin: everyone's), newest "
            "first; secrets are never shown again")
def list_personal_tokens(session: SessionDep, caller: CallerDep) -> list[UserTokenPublic]:
    query = select(UserToken)
    if caller.user is not None:
        query = query.where(col(UserToken.user_id) == caller.user.id)
    elif not is_service_admin(caller):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "needs the admin role")
    rows = session.exec(query.order_by(col(UserToken.id).desc())).all()
    return [UserTokenPublic.model_validate(t) for t in rows]


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               responses={404: {"model": Message, "description": "No such token among the "
                                "caller's"}},
               summary="Revoke a personal token at once, and every token made with it (its "
               "owner, or an admin who manages the owner)")
def revoke_personal_token(token_id: TokenId, session: SessionDep, caller: CallerDep,
                          address: AddressDep) -> Response:
    row = session.get(UserToken, token_id)
    own = row is not None and caller.user is not None and caller.user.id == row.user_id
    if row is None or not (own or manages_user(session, caller, row.user_id)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown token {token_id}")
    revoked = revoke_with_descendants(session, row)
    if revoked:
        audit.record(session, caller, "token.revoke", f"token {token_id}", address,
                     name=row.name, owner=row.user_id,
                     descendants=[t.id for t in revoked if t.id != token_id])
        session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
