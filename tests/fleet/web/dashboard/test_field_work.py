"""In a real Chromium, a farm manager's work through the API routes the pages call: confirm or
reject a detection, scout a leaf photo (and one taken with no signal, sent when the phone is back
online) and reject its diagnosis naming the right class, acknowledge an alert. Each test runs
once its route is part of the fleet."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx2 as httpx
import pytest
from PIL import Image
from playwright.sync_api import expect

from agrifleet.fleet.devices.tables import DEFAULT_FARM_ID
from tests.fleet.web.dashboard.conftest import Site


def has_route(site: Site, path: str) -> bool:
    # From the OpenAPI document: FastAPI keeps included routers nested in app.routes.
    return path in site.app.openapi()["paths"]


def need(site: Site, path: str) -> None:
    if not has_route(site, path):
        pytest.skip(f"{path} is not in this fleet yet (issue 11, part B)")


def api_get(site: Site, path: str) -> Any:
    response = httpx.get(site.url + path, timeout=30,
                         headers={"Authorization": f"Bearer {site.technician_token}"})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_detection_is_confirmed_and_another_rejected_with_the_right_name(
        site: Site, page: Any) -> None:
    need(site, "/api/v1/detections/{detection_id}/verdict")
    site.login(page)
    page.goto(site.url + "/detections")
    first, second = site.seeded.detection_ids[0], site.seeded.detection_ids[1]
    card = page.locator(f"#det-{first}")
    card.locator("button:text('Confirm')").click()
    card.locator(".result:text('Done.')").wait_for()
    other = page.locator(f"#det-{second}")
    other.locator("button:text('Reject')").click()
    other.locator("select[name=label]").select_option("Tomato___Septoria_leaf_spot")
    other.locator("button:text('Save')").click()
    other.locator(".result:text('Done.')").wait_for()
    assert "confirmed" in json.dumps(api_get(site, f"/api/v1/detections/{first}"))
    rejected = json.dumps(api_get(site, f"/api/v1/detections/{second}"))
    assert "rejected" in rejected and "Tomato___Septoria_leaf_spot" in rejected


def leaf(tmp_path: Any) -> str:
    path = tmp_path / "leaf.jpg"
    Image.new("RGB", (256, 256), (60, 140, 50)).save(path, "JPEG")
    return str(path)


def test_scouting_sends_a_photo_now_and_one_taken_offline_when_back_online(
        site: Site, page: Any, tmp_path: Any) -> None:
    need(site, "/api/v1/observations")
    site.login(page)
    page.goto(site.url + "/scouting")
    page.set_input_files("#photo", leaf(tmp_path))
    page.click("#scout button[type=submit]")
    page.locator("#answer:not([hidden])").wait_for(timeout=60_000)
    assert page.locator("#answer .answer-label").inner_text().strip()
    before = len(api_get(site, "/api/v1/observations"))

    page.context.set_offline(True)
    page.set_input_files("#photo", leaf(tmp_path))
    page.click("#scout button[type=submit]")
    page.locator("#notice:text('Saved on this phone')").wait_for()
    expect(page.locator("#pending")).to_have_text("Photos waiting to be sent: 1")
    assert len(api_get(site, "/api/v1/observations")) == before  # nothing reached the fleet
    page.context.set_offline(False)
    # Back online the page sends the kept photo, then empties the line (an empty element is
    # never "visible", so its text is what is waited for) and says it was sent.
    expect(page.locator("#pending")).to_have_text("", timeout=60_000)
    expect(page.locator("#notice")).to_have_text("Sent.")
    assert len(api_get(site, "/api/v1/observations")) == before + 1


def test_a_scouting_diagnosis_is_rejected_naming_the_right_class(
        site: Site, page: Any, tmp_path: Any) -> None:
    need(site, "/api/v1/observations/{observation_id}/verdict")
    site.login(page)
    page.goto(site.url + "/scouting")
    page.set_input_files("#photo", leaf(tmp_path))
    page.click("#scout button[type=submit]")
    answer = page.locator("#answer .answer-verdict:not([hidden])")
    answer.wait_for(timeout=60_000)
    answer.locator("button:text('Reject')").click()
    answer.locator("select[name=label]").select_option("Tomato___Septoria_leaf_spot")
    answer.locator("button:text('Save')").click()
    answer.locator(".result:text('Done.')").wait_for()
    newest = max(api_get(site, "/api/v1/observations"), key=lambda o: o["id"])
    from sqlmodel import Session

    from agrifleet.fleet.modelops.tables import ObservationVerdict

    with Session(site.app.state.engine) as session:
        row = session.get(ObservationVerdict, newest["id"])
    assert row is not None and row.verdict == "rejected"
    assert row.label == "Tomato___Septoria_leaf_spot"


def test_an_alert_is_acknowledged_with_who_did_it(site: Site, page: Any) -> None:
    need(site, "/api/v1/alerts/{alert_id}/acknowledge")
    from datetime import UTC, datetime

    from agrifleet.fleet.alerts.evaluate import evaluate_once

    rule = httpx.post(site.url + "/api/v1/alert-rules", timeout=30,
                      headers={"Authorization": f"Bearer {site.technician_token}"},
                      json={"name": "Nodes offline", "kind": "offline",
                            "farm_id": DEFAULT_FARM_ID})
    assert rule.status_code == 201, rule.text
    tick = evaluate_once(site.app.state.engine, datetime.now(UTC), offline_after_s=300)
    assert len(tick.opened) == 1  # north-2 is offline, the others were heard 20 s ago
    site.login(page)
    page.goto(site.url + "/alerts")
    item = page.locator(".alert-list li", has_text="North 2").first
    item.wait_for()
    assert "Node offline" in item.inner_text()
    item.locator("button:text('Acknowledge')").click()
    done = page.locator(".alert-list li", has_text="North 2").first
    expect(done).to_contain_text("acknowledged by vy@farm.example")
    expect(done.locator("button:text('Acknowledge')")).to_have_count(0)
    alerts = api_get(site, "/api/v1/alerts")
    (alert,) = [a for a in alerts if a["device_id"] == "north-2"]
    assert alert["state"] == "acknowledged" and alert["acknowledged_by"] == "vy@farm.example"


def test_the_thumbnails_come_through_the_signed_in_session(site: Site, page: Any) -> None:
    site.login(page)
    page.goto(site.url + "/detections")
    image = page.locator(f"#det-{site.seeded.detection_ids[0]} img")
    image.scroll_into_view_if_needed()
    assert page.evaluate("(img) => img.complete && img.naturalWidth", image.element_handle()) == 96
    response = io.BytesIO(page.request.get(
        site.url + f"/api/v1/detections/{site.seeded.detection_ids[0]}/image").body())
    assert Image.open(response).size == (96, 96)
