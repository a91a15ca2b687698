"""People put in the fleet's database the way the CLI and the API do: farms, users with
roles, personal tokens (live, expired or revoked), and signing in over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from agrifleet.fleet.people.auth.passwords import hash_password
from agrifleet.fleet.people.auth.tokens import new_personal_token
from agrifleet.fleet.people.tables import Farm, Membership, User

PASSWORD = "correct horse battery staple"


@cache
def stored_hash(password: str) -> str:
    """The argon2id hash the fleet stores for ``password``, made once per test process: a hash
    costs a sixth of a second of CPU, and every sign-in still verifies against a real one."""
    return hash_password(password)


def add_farm(engine: Engine, name: str) -> int:
    with Session(engine) as session:
        farm = Farm(name=name)
        session.add(farm)
        session.commit()
        assert farm.id is not None
        return farm.id


def add_user(engine: Engine, email: str, roles: dict[int, str],
             password: str = PASSWORD) -> int:
    with Session(engine) as session:
        user = User(email=email.lower(), password_hash=stored_hash(password))
        session.add(user)
        session.flush()
        assert user.id is not None
        for farm_id, role in roles.items():
            session.add(Membership(user_id=user.id, farm_id=farm_id, role=role))
        session.commit()
        return user.id


def personal_token(engine: Engine, user_id: int, *, expired: bool = False,
                   revoked: bool = False, name: str = "test") -> tuple[int, str]:
    """A personal token's id and secret, made like POST /api/v1/tokens makes one."""
    with Session(engine) as session:
        row, secret = new_personal_token(user_id, name, 30)
        if expired:
            row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        if revoked:
            row.revoked_at = datetime.now(UTC)
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id, secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def login(client: TestClient, email: str, password: str = PASSWORD,
          **headers: str) -> Any:
    return client.post("/api/v1/auth/login", json={"email": email, "password": password},
                       headers=headers)


def signed_in(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    """Sign in (the client keeps the cookie) and return the CSRF header for writes."""
    response = login(client, email, password)
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}
