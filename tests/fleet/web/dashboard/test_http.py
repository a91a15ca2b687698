"""The dashboard over plain HTTP: pages need a session, the sign-in form and sign-out need their
CSRF tokens, sign-in never redirects off the site, bad filters and unknown nodes give pages (not
errors), a browser's API calls need the CSRF header, and /docs and /redoc load nothing from
a CDN."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from agrifleet.fleet.app import create_app
from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.telemetry.tables import Detection
from tests.fleet.web.dashboard.farm import VIEWER, seed

pytestmark = pytest.mark.slow  # the dashboard served over HTTP

FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(FleetSettings(database_url=f"sqlite:///{tmp_path / 'f.db'}",
                                   data_dir=tmp_path))
    with TestClient(app, follow_redirects=False) as c:
        seed(app)
        yield c


def login_token(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert found is not None
    return found.group(1)


def sign_in(client: TestClient, next_path: str = "/", password: str = VIEWER[1]) -> str:
    token = login_token(client)
    body = f"email={VIEWER[0]}&password={password}&csrf_token={token}&next={next_path}"
    response = client.post("/login", content=body, headers=FORM)
    return response.headers.get("location", str(response.status_code))


@pytest.mark.parametrize("path", ["/", "/fields/1", "/nodes/north-1", "/detections",
                                  "/scouting", "/alerts", "/models"])
def test_every_page_sends_a_stranger_to_sign_in(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_sign_in_needs_the_form_token_and_the_right_password(client: TestClient) -> None:
    client.get("/login")
    forged = client.post("/login", headers=FORM,
                         content=f"email={VIEWER[0]}&password={VIEWER[1]}&csrf_token=forged")
    assert forged.status_code == 403 and "agrifleet_session" not in forged.cookies
    assert sign_in(client, password="wrong") == "401"
    assert sign_in(client, "/detections") == "/detections"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil",
                                    "javascript:alert(1)"])
def test_sign_in_never_sends_anyone_off_the_site(client: TestClient, target: str) -> None:
    assert sign_in(client, target) == "/"


def test_sign_out_needs_the_session_csrf_token(client: TestClient) -> None:
    sign_in(client)
    assert client.post("/logout", content="csrf_token=nope", headers=FORM).status_code == 403
    assert client.get("/").status_code == 200
    csrf = client.cookies.get("agrifleet_csrf")
    assert client.post("/logout", content=f"csrf_token={csrf}", headers=FORM).status_code == 303
    assert client.get("/").status_code == 303


def test_bad_filters_and_unknown_nodes_are_pages_not_errors(client: TestClient) -> None:
    sign_in(client)
    for query in ("min_confidence=lots", "since=yesterday", "until=2026-13-40", "field=nowhere",
                  "label=%00", "crop=" + "x" * 5000):
        response = client.get("/detections?" + query)
        assert response.status_code == 200, query
    assert client.get("/nodes/north-1?span=forever").status_code == 200
    assert client.get("/nodes/no-such-node").status_code == 404
    assert client.get("/fields/999").status_code == 404
    assert client.get("/fields/nonsense").status_code == 404
    assert 'lang="en"' in client.get("/nodes/no-such-node").text


def test_a_browser_api_call_needs_the_csrf_header(client: TestClient) -> None:
    sign_in(client)
    assert client.get("/api/v1/devices").status_code == 200  # reads need no token
    body = {"id": "x-1"}
    assert client.post("/api/v1/devices", json=body).status_code == 403
    wrong = client.post("/api/v1/devices", json=body, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    right = client.post("/api/v1/devices", json=body,
                        headers={"X-CSRF-Token": client.cookies["agrifleet_csrf"]})
    assert right.status_code == 403 and "CSRF" not in right.json()["detail"]  # a viewer's role
    client.cookies.clear()
    assert client.get("/api/v1/devices").status_code == 401


def test_api_docs_are_served_with_local_assets(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(s.startswith("/") for s in sources), sources
        for source in sources:
            assert client.get(source).status_code == 200, source
    assert client.get("/openapi.json").status_code == 200


def test_the_language_choice_is_kept_in_a_cookie(client: TestClient) -> None:
    response = client.get("/login?lang=zh")
    assert 'lang="zh"' in response.text and response.headers["content-language"] == "zh"
    assert response.cookies.get("agrifleet_lang") == "zh"
    assert 'lang="zh"' in client.get("/login", headers={"Accept-Language": "vi"}).text
    client.cookies.clear()
    assert '<html lang="vi">' in client.get("/login", headers={"Accept-Language": "vi"}).text


def test_repeated_wrong_passwords_are_throttled_like_the_api_login(client: TestClient) -> None:
    answers = [sign_in(client, password=f"wrong-{i}") for i in range(6)]
    assert answers[:5] == ["401"] * 5 and answers[5] == "429"
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    refused = client.post("/login", headers=FORM, content=(
        f"email={VIEWER[0]}&password={VIEWER[1]}&csrf_token={token.group(1)}"))
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert "Too many attempts" in refused.text


def test_the_gallery_says_given_verdicts_and_a_disease_whose_crop_is_uncertain(
        client: TestClient) -> None:
    app = client.app
    now = datetime.now(UTC)
    with Session(app.state.engine) as session:  # type: ignore[attr-defined]
        session.add(Detection(
            device_id="north-1", boot_id="b2", seq=1, ts=now, uptime_s=1, clock_synced=True,
            camera="cam0", label="uncertain", confidence=0.48, uncertain=True,
            top3=[{"label": "Potato___Late_blight", "confidence": 0.48},
                  {"label": "Tomato___Late_blight", "confidence": 0.44}],
            crop="Potato", crop_confidence=0.5, crop_uncertain=True,
            disease="Late blight", disease_confidence=0.92, disease_uncertain=False,
            model_name="leaf-disease", model_version="2.0.0", model_sha256="0" * 64,
            inference_ms=40.0, image_sha256="3" * 64, stored_at=now))
        session.commit()
    sign_in(client)
    headers = {"X-CSRF-Token": client.cookies["agrifleet_csrf"]}
    page = client.get("/detections?lang=en").text
    assert "Late blight · crop uncertain" in page
    assert "Confirmed by" not in page and "Rejected by" not in page
    first = int(re.findall(r'id="det-(\d+)"', page)[-1])  # the oldest: Tomato late blight
    given = client.post(f"/api/v1/detections/{first}/verdict", headers=headers,
                        json={"verdict": "rejected", "label": "Tomato___Early_blight"})
    assert given.status_code in (200, 201), given.text
    page = client.get("/detections").text
    assert f"Rejected by {VIEWER[0]}: Tomato · Early blight" in page
    assert "作物不确定" in client.get("/detections?lang=zh").text


def test_the_overview_lists_a_big_fields_nodes_needing_a_look_first_and_links_to_all(
        client: TestClient) -> None:
    from agrifleet.fleet.devices.tables import DEFAULT_FARM_ID, Device
    from agrifleet.fleet.web.dashboard.data import OVERVIEW_NODES

    app = client.app
    now = datetime.now(UTC)
    with Session(app.state.engine) as session:  # type: ignore[attr-defined]
        for i in range(OVERVIEW_NODES + 5):  # into "River", which has one node
            session.add(Device(id=f"paddy-{i:02d}", name=f"Paddy {i:02d}", online=i != 29,
                               farm_id=DEFAULT_FARM_ID, field_id=2, last_seen=now))
        session.commit()
    sign_in(client)
    page = client.get("/?lang=en").text
    river = page[page.index(">River<"):]
    river = river[:river.index("</section>")]
    rows = re.findall(r'<a href="/nodes/([^"]+)"', river)
    assert len(rows) == OVERVIEW_NODES
    assert rows[0] == "paddy-29"  # the offline one first
    assert f"All {OVERVIEW_NODES + 6} nodes of this field" in river
    field = client.get("/fields/2").text
    assert len(set(re.findall(r'href="/nodes/(paddy-\d+)"', field))) == OVERVIEW_NODES + 5
