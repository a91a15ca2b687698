"""``/api/v1/users``: people. An admin of a farm adds people to it and manages those who
belong only to farms they administer; everyone may read and change their own account.
See :mod:`fleet.people.farms` for who sees and manages whom."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status
from sqlmodel import col, delete, select

from agrifleet.fleet.people import audit
from agrifleet.fleet.people.accounts import AccountError, add_member
from agrifleet.fleet.people.auth.devices import forget_all
from agrifleet.fleet.people.auth.passwords import hash_password
from agrifleet.fleet.people.auth.sessions import end_sessions
from agrifleet.fleet.people.auth.tokens import revoke_all_of
from agrifleet.fleet.people.farms import manages_user, sees_user, visible_users
from agrifleet.fleet.people.tables import (
    Membership,
    User,
    UserCreate,
    UserPublic,
    UserToken,
    UserUpdate,
)
from agrifleet.fleet.web.api.deps import AddressDep, AdminToken, CallerDep, SessionDep
from agrifleet.fleet.web.api.errors import Message, Responses, too_large
from agrifleet.fleet.web.api.params import MAX_BODY_BYTES
from agrifleet.fleet.web.api.routes.auth import user_public
from agrifleet.fleet.web.api.routes.farms import require_role, visible_farm

router = APIRouter(prefix="/users", tags=["users"])

UserId = Annotated[int, Path(ge=1, le=2**31 - 1, description="User id")]
NOT_FOUND: Responses = {404: {"model": Message,
                              "description": "No such user among those the caller sees"}}
CONFLICT: Responses = {409: {"model": Message, "description": "The e-mail is taken"}}


def _taken(session: SessionDep, email: str, but: int | None = None) -> bool:
    found = session.exec(select(User).where(col(User.email) == email)).first()
    return found is not None and found.id != but


def _visible(session: SessionDep, caller: CallerDep, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not sees_user(session, caller, user_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown user {user_id}")
    return user


@router.get("", summary="The people the caller administers, and the caller (admin)")
def list_users(session: SessionDep, caller: AdminToken) -> list[UserPublic]:
    return [user_public(session, u, caller) for u in visible_users(session, caller)]


@router.post("", status_code=status.HTTP_201_CREATED,
             responses={404: {"model": Message, "description": "No such farm of the caller's"},
                        **CONFLICT, **too_large(MAX_BODY_BYTES)},
             summary="Add a person, as a member of one of the caller's farms (admin of it)",
             max_body_size=MAX_BODY_BYTES)
def create_user(body: UserCreate, session: SessionDep, caller: AdminToken,
                address: AddressDep) -> UserPublic:
    if body.farm_id is None and caller.kind == "user":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "name the farm_id of a farm you "
                            "administer: the new user becomes a member of it")
    if body.farm_id is not None:
        visible_farm(session, caller, body.farm_id)
        require_role(caller, "admin", body.farm_id)
    if _taken(session, body.email):
        raise HTTPException(status.HTTP_409_CONFLICT, f"a user with e-mail {body.email!r} "
                            "exists")
    try:
        user = add_member(session, body, caller, address)
    except AccountError as exc:  # the farm or the e-mail went in the meantime
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    session.commit()
    session.refresh(user)
    return user_public(session, user, caller)


@router.get("/{user_id}", responses=NOT_FOUND, summary="One person and their memberships")
def get_user(user_id: UserId, session: SessionDep, caller: CallerDep) -> UserPublic:
    return user_public(session, _visible(session, caller, user_id), caller)


@router.patch("/{user_id}", responses={**NOT_FOUND, **CONFLICT, **too_large(MAX_BODY_BYTES)},
              summary="Change a person's e-mail, password, language or whether they may sign "
              "in (themselves, or an admin who manages them; 'active' only an admin). A new "
              "password ends their sessions and revokes their personal tokens (unless "
              "keep_personal_tokens)",
              max_body_size=MAX_BODY_BYTES)
def update_user(user_id: UserId, body: UserUpdate, session: SessionDep, caller: CallerDep,
                address: AddressDep) -> UserPublic:
    user = _visible(session, caller, user_id)
    is_self = caller.user is not None and caller.user.id == user_id
    manages = manages_user(session, caller, user_id)
    if not manages and (not is_self or body.active is not None):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only an admin of every farm of this "
                            "user may change them (a user may change their own e-mail, "
                            "password and language)")
    if body.email is not None and _taken(session, body.email, but=user_id):
        raise HTTPException(status.HTTP_409_CONFLICT, f"a user with e-mail {body.email!r} "
                            "exists")
    if body.email is not None:
        user.email = body.email
    if body.language is not None or "language" in body.model_fields_set:
        user.language = body.language
    if body.active is not None:
        user.active = body.active
    if body.password is not None:
        user.password_hash = hash_password(body.password)
    if body.password is not None or body.active is False:
        end_sessions(session, user_id)
    revoked = 0
    if body.password is not None and not body.keep_personal_tokens:
        revoked = revoke_all_of(session, user_id)
    session.add(user)
    audit.record(session, caller, "user.update", user.email, address,
                 changed=sorted(body.model_fields_set - {"keep_personal_tokens"}),
                 tokens_revoked=revoked)
    session.commit()
    session.refresh(user)
    return user_public(session, user, caller)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               responses={**NOT_FOUND, 409: {"model": Message, "description": "Deleting "
                                             "oneself"}},
               summary="Delete a person, their memberships, sessions and tokens (an admin "
               "who manages them)")
def delete_user(user_id: UserId, session: SessionDep, caller: CallerDep,
                address: AddressDep) -> Response:
    user = _visible(session, caller, user_id)
    if caller.user is not None and caller.user.id == user_id:
        raise HTTPException(status.HTTP_409_CONFLICT, "you cannot delete yourself")
    if not manages_user(session, caller, user_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only an admin of every farm of this "
                            "user may delete them")
    end_sessions(session, user_id)
    forget_all(session, user_id)
    session.exec(delete(UserToken).where(col(UserToken.user_id) == user_id))
    session.exec(delete(Membership).where(col(Membership.user_id) == user_id))
    session.delete(user)
    audit.record(session, caller, "user.delete", user.email, address)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
