"""The people commands specify: `create-farm NAME` prints the new farm's id; `create-user EMAIL
--farm ID --role ROLE` reads the password from standard input (never an argument), and the
user then signs in over HTTP; an unknown farm, a taken e-mail or a short password exit
non-zero with a one-line reason and create nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from agrifleet.fleet.app import create_app
from agrifleet.fleet.db import make_engine
from agrifleet.fleet.people.tables import Membership, User
from agrifleet.fleet.settings import FleetSettings
from tests.fleet.people.auth.people import login


def _run(*args: str, url: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGRIFLEET_")}
    env["AGRIFLEET_DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "agrifleet", "fleet", *args], env=env,
                          input=stdin, capture_output=True, text=True, timeout=120)


def test_first_admin_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    farm = _run("create-farm", "Hill farm", url=url)
    assert farm.returncode == 0, farm.stderr
    farm_id = int(farm.stdout.strip())
    assert farm_id == 2  # after the default farm
    made = _run("create-user", "Ana@Farm.Example", "--farm", str(farm_id), "--role", "admin",
                url=url, stdin="a long enough password\n")
    assert made.returncode == 0, made.stderr
    assert "a long enough password" not in made.stdout + made.stderr
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            user = session.exec(select(User)).one()
            assert int(made.stdout.strip()) == user.id and user.email == "ana@farm.example"
            assert user.password_hash.startswith("$argon2id$")
            membership = session.exec(select(Membership)).one()
            assert (membership.farm_id, membership.role) == (farm_id, "admin")
    finally:
        engine.dispose()
    with TestClient(create_app(FleetSettings(database_url=url))) as client:
        signed = login(client, "ana@farm.example", "a long enough password")
        assert signed.status_code == 200, signed.text
        assert client.get("/api/v1/farms").json()[0]["name"] == "Hill farm"


def test_refusals_create_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    unknown = _run("create-user", "a@farm.example", "--farm", "9", "--role", "viewer",
                   url=url, stdin="a long enough password\n")
    assert unknown.returncode == 1 and "no farm 9" in unknown.stderr
    short = _run("create-user", "a@farm.example", "--farm", "1", "--role", "viewer",
                 url=url, stdin="short\n")
    assert short.returncode == 2 and "password" in short.stderr
    assert "short" not in short.stderr  # the reason, never the password
    role = _run("create-user", "a@farm.example", "--farm", "1", "--role", "owner", url=url,
                stdin="a long enough password\n")
    assert role.returncode == 2
    first = _run("create-user", "a@farm.example", "--farm", "1", "--role", "viewer", url=url,
                 stdin="a long enough password\n")
    assert first.returncode == 0, first.stderr
    again = _run("create-user", "A@farm.example", "--farm", "1", "--role", "admin", url=url,
                 stdin="another long password\n")
    assert again.returncode == 1 and "exists" in again.stderr
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            assert len(session.exec(select(User)).all()) == 1
    finally:
        engine.dispose()
    empty = _run("create-farm", "", url=url)
    assert empty.returncode == 2 and "name" in empty.stderr
