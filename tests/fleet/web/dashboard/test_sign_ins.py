"""The farm's admin sees the failed and held sign-ins on the farm's people's accounts on the
``/sign-ins`` page, in vi, zh and en, with a link in the menu; a viewer gets neither, and an
attempt on another farm's person is not shown."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agrifleet.fleet.app import create_app
from agrifleet.fleet.settings import FleetSettings
from tests.fleet.people.auth.people import PASSWORD, add_farm, add_user
from tests.fleet.web.dashboard.farm import VIEWER, seed

FORM = {"content-type": "application/x-www-form-urlencoded"}
ADMIN = "boss@farm.example"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(FleetSettings(database_url=f"sqlite:///{tmp_path / 'f.db'}",
                                   data_dir=tmp_path))
    with TestClient(app, follow_redirects=False) as c:
        seed(app)
        add_user(app.state.engine, ADMIN, {1: "admin"})
        third = add_farm(app.state.engine, "Third farm")
        add_user(app.state.engine, "hill@other.example", {third: "viewer"})
        yield c


def _sign_in(client: TestClient, email: str, password: str) -> int:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    response = client.post("/login", headers=FORM, content=(
        f"email={email}&password={password}&csrf_token={token.group(1)}"))
    return response.status_code


def test_the_admin_sees_failed_sign_ins_in_every_language(client: TestClient) -> None:
    assert _sign_in(client, VIEWER[0], "not her password") == 401
    assert _sign_in(client, "hill@other.example", "not his password") == 401
    assert _sign_in(client, ADMIN, PASSWORD) == 303
    english = client.get("/sign-ins?lang=en")
    assert english.status_code == 200, english.text
    assert VIEWER[0] in english.text and "Wrong password" in english.text
    assert "hill@other.example" not in english.text
    assert 'href="/sign-ins"' in english.text  # the menu links it for an admin
    assert "Sai mật khẩu" in client.get("/sign-ins?lang=vi").text
    chinese = client.get("/sign-ins?lang=zh").text
    assert "密码错误" in chinese and "登录失败" in chinese


def test_a_viewer_neither_sees_the_page_nor_its_link(client: TestClient) -> None:
    assert _sign_in(client, *VIEWER) == 303
    assert client.get("/sign-ins").status_code == 404
    assert 'href="/sign-ins"' not in client.get("/").text
