"""In a real Chromium: a farm manager signs in, switches language, opens a field and a node
and sees a chart; a technician starts and pauses a rollout that a viewer may not touch, sees which
nodes take no model offers and why a start is refused."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.fleet.web.dashboard.conftest import Site
from tests.fleet.web.dashboard.farm import NODES, OTHER_FIELD, OTHER_NODE, TECHNICIAN, VIEWER

pytestmark = pytest.mark.slow  # Chromium through the dashboard's flows


def test_pages_need_a_sign_in_and_a_wrong_password_is_refused(site: Site, page: Any) -> None:
    page.goto(site.url + "/nodes/north-1")
    assert page.url.startswith(site.url + "/login")
    page.fill("#email", VIEWER[0])
    page.fill("#password", "not-the-password")
    page.click("form[action='/login'] button[type=submit]")
    assert page.locator("[role=alert]").inner_text() == "Wrong email or password."
    page.fill("#email", VIEWER[0])
    page.fill("#password", VIEWER[1])
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(site.url + "/nodes/north-1")  # back where the person wanted to go
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["agrifleet_session"]["httpOnly"] is True
    assert cookies["agrifleet_session"]["sameSite"] == "Lax"


def test_language_is_switched_remembered_and_said_in_html_lang(site: Site, page: Any) -> None:
    site.login(page)
    assert page.get_attribute("html", "lang") == "en"
    assert page.locator("h1").inner_text() == "Overview"
    page.click("a[hreflang=vi]")
    page.wait_for_url(re.compile(r".*lang=vi"))
    assert page.get_attribute("html", "lang") == "vi"
    assert page.locator("h1").inner_text() == "Tổng quan"
    page.goto(site.url + "/detections")  # no ?lang: remembered
    assert page.get_attribute("html", "lang") == "vi"
    assert page.locator("h1").inner_text() == "Phát hiện bệnh"
    page.goto(site.url + "/?lang=zh")
    assert page.get_attribute("html", "lang") == "zh"
    assert "个节点中" in page.locator(".field .summary").first.inner_text()
    other = page.context.browser.new_context()  # another browser: no cookie, English asked
    try:
        elsewhere = other.new_page()
        site.login(elsewhere)
        assert elsewhere.get_attribute("html", "lang") == "zh"  # the choice kept on the user
    finally:
        other.close()


def test_accept_language_chooses_before_any_choice(site: Site, browser: Any) -> None:
    ctx = browser.new_context(locale="zh-CN")
    try:
        page = ctx.new_page()
        page.goto(site.url + "/login")
        assert page.get_attribute("html", "lang") == "zh"
        assert page.locator("h1").inner_text() == "登录"
    finally:
        ctx.close()


def test_overview_shows_fields_nodes_disease_and_silent_sensors(site: Site, page: Any) -> None:
    site.login(page)
    assert page.locator("main").inner_text().strip().startswith("Overview")
    north = page.locator("section.field", has_text="North")
    assert "1 of 2 nodes online" in north.inner_text()
    assert "Tomato · Late blight" in north.inner_text()
    assert "Sensors not answering: soil" in north.inner_text()
    assert "healthy" not in north.locator(".warn").inner_text().lower()
    assert "1 of 1 nodes online" in page.locator("section.field", has_text="River").inner_text()


def test_field_map_then_node_with_charts_and_health(site: Site, page: Any) -> None:
    site.login(page)
    page.click("section.field h2 a:text('North')")
    page.wait_for_url(site.url + f"/fields/{site.seeded.fields['North']}")
    assert page.locator("svg.map polygon.outline").count() == 1
    pins = page.locator("svg.map circle")
    assert pins.count() == 2
    assert page.locator("svg.map circle.pin-off").count() == 1
    page.click("svg.map a[href='/nodes/north-1']")
    page.wait_for_url(site.url + "/nodes/north-1")
    assert page.locator("h1").inner_text().startswith("North 1")
    charts = page.locator("svg.chart")
    assert charts.count() == 2  # moisture and temperature; positions are not charted
    points = charts.first.locator("polyline").get_attribute("points")
    assert len(points.split()) >= 24  # a day of hourly readings: one point per hour
    page.click("ul.tabs a:text('Week')")
    page.wait_for_url(re.compile(r".*span=week"))
    assert len(page.locator("svg.chart polyline").first.get_attribute("points").split()) > 60
    health = page.locator("section[aria-labelledby=health-h]").inner_text()
    assert "3 items" in health and "5.4 GB" in health and "51.5 °C" in health
    assert page.locator("section[aria-labelledby=det-h] img").count() == 3


def _rollout_buttons(page: Any) -> int:
    return page.locator("article.rollout button[data-api]").count()


def test_a_technician_starts_and_pauses_a_rollout_a_viewer_may_not(site: Site, browser: Any
                                                                   ) -> None:
    tech_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    viewer_ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        tech = tech_ctx.new_page()
        site.login(tech, TECHNICIAN)
        tech.goto(site.url + "/models")
        tech.select_option("#r-package", "leaf-disease|1.2.0")
        tech.fill("#r-phases", "50, 100")
        tech.click("#start-rollout button[type=submit]")
        tech.wait_for_selector("article.rollout")
        article = tech.locator("article.rollout").first
        assert "running" in article.inner_text()
        rollout_id = int(article.get_attribute("id").split("-")[1])
        article.locator("button:text('Pause')").click()
        tech.wait_for_selector("article.rollout .state-paused")
        assert tech.locator("article.rollout button:text('Resume')").count() == 1

        viewer = viewer_ctx.new_page()
        site.login(viewer, VIEWER)
        viewer.goto(site.url + "/models")
        assert viewer.locator("article.rollout").count() == 1
        assert _rollout_buttons(viewer) == 0 and viewer.locator("#start-rollout").count() == 0
        # The controls are hidden, and the server refuses the call a viewer makes anyway.
        status = viewer.evaluate("""async (id) => {
            const csrf = document.cookie.match(/agrifleet_csrf=([^;]*)/)[1];
            const r = await fetch(`/api/v1/rollouts/${id}/resume`, {method: "POST",
              headers: {"X-CSRF-Token": decodeURIComponent(csrf),
                        "Content-Type": "application/json"}, body: "{}"});
            return r.status; }""", rollout_id)
        assert status == 403
        without_csrf = viewer.evaluate("""async (id) => (await fetch(
            `/api/v1/rollouts/${id}/resume`, {method: "POST"})).status""", rollout_id)
        assert without_csrf == 403
        tech.reload()
        assert "paused" in tech.locator("article.rollout").first.inner_text()
    finally:
        tech_ctx.close()
        viewer_ctx.close()


def test_pages_update_without_a_reload(site: Site, page: Any) -> None:
    from datetime import UTC, datetime

    from sqlmodel import Session

    from agrifleet.fleet.devices.tables import Device

    site.login(page)
    page.evaluate("window.__same_document = true")
    with Session(site.app.state.engine) as session:
        device = session.get(Device, "north-2")
        assert device is not None
        device.online, device.last_seen = True, datetime.now(UTC)
        session.add(device)
        session.commit()
    north = page.locator("section.field", has_text="North")
    north.locator("text=2 of 2 nodes online").wait_for(timeout=30_000)
    assert page.evaluate("window.__same_document") is True


def test_nothing_of_another_farm_is_shown(site: Site, page: Any) -> None:
    site.login(page, TECHNICIAN)
    seen = " ".join(page.locator("main").inner_text() for _ in [page.goto(site.url + path)
                    for path in ("/", "/detections", "/models", "/scouting")])
    assert OTHER_FIELD not in seen and OTHER_NODE not in seen and "rust" not in seen.lower()
    for path in (f"/nodes/{OTHER_NODE}", f"/fields/{site.seeded.other_field}"):
        assert page.goto(site.url + path).status == 404, path
    image = page.request.get(site.url + f"/api/v1/detections/{site.seeded.other_detection}/image")
    assert image.status == 404
    listed = page.request.get(site.url + "/api/v1/devices").json()
    assert OTHER_NODE not in json.dumps(listed)


def test_the_rollout_page_says_which_nodes_take_no_offers_and_why_a_start_is_refused(
        site: Site, page: Any) -> None:
    from sqlmodel import Session

    from agrifleet.fleet.devices.tables import Device

    first = sorted(NODES)[0]
    with Session(site.app.state.engine) as session:  # its agent has no [updates] section
        device = session.get(Device, first)
        assert device is not None
        device.health = {**(device.health or {}), "takes_offers": False}
        session.add(device)
        session.commit()
    site.login(page, TECHNICIAN, lang="vi")
    page.goto(site.url + "/models")
    page.select_option("#r-package", "leaf-disease|1.2.0")
    page.click("#start-rollout button[type=submit]")
    page.wait_for_selector("article.rollout")
    rollout_id = int(page.locator("article.rollout").first.get_attribute("id").split("-")[1])
    row = page.locator("article.rollout tr", has=page.locator(f"a[href='/nodes/{first}']"))
    assert "không nhận bản cập nhật mô hình" in (row.text_content() or "")

    page.select_option("#r-package", "leaf-disease|1.2.0")
    page.click("#start-rollout button[type=submit]")
    expect(page.locator("#notice")).not_to_have_text("")  # (no eval: the CSP forbids it)
    notice = page.locator("#notice").inner_text()
    assert notice.startswith("Các trạm này đang ở trong một đợt triển khai chưa xong: ")
    assert f"{first} (#{rollout_id})" in notice
