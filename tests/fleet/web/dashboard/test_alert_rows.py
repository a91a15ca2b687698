"""The pages say what is wrong and where, in words: an alert names the disease and its
confidence, or the reading, its value and the allowed range, and the node and field by name; a
detection card and a rollout's device list name nodes by name (and show no other farm's node);
English dates have one format on every page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import httpx2 as httpx
import pytest

from tests.fleet.web.dashboard.conftest import Site
from tests.fleet.web.dashboard.farm import TECHNICIAN
from tests.fleet.web.dashboard.showcase import fill


@pytest.fixture
def client(site: Site) -> Iterator[httpx.Client]:
    fill(site.url, site.app, site.technician_token)
    with httpx.Client(base_url=site.url, timeout=30) as signed:
        form = signed.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        answer = signed.post("/login", data={"email": TECHNICIAN[0], "password": TECHNICIAN[1],
                                             "csrf_token": token.group(1), "next": "/"})
        assert answer.status_code == 303, answer.text[:300]
        yield signed


def text(client: httpx.Client, path: str) -> str:
    """The page's words, tags left out."""
    answer = client.get(path)
    assert answer.status_code == 200, answer.text[:300]
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", answer.text)).split())


def alert_lines(client: httpx.Client, path: str) -> list[str]:
    html = client.get(path).text
    items = re.findall(r'<li id="alert-\d+">(.*?)</li>', html, re.S)
    return [" ".join(unescape(re.sub(r"<[^>]+>", "", i)).split()) for i in items]


def test_an_alert_names_the_disease_the_reading_and_the_node(client: httpx.Client) -> None:
    lines = alert_lines(client, "/alerts?lang=vi")
    assert any(line.startswith("Cà chua · Bệnh mốc sương, 93%, North 1 (North)")
               for line in lines), lines
    assert any(line.startswith("Độ ẩm đất, 12 % (ngưỡng cho phép 20–40 %), North 1 (North)")
               for line in lines), lines
    assert any(line.startswith("Trạm mất kết nối, liên lạc lần cuối") and "North 2 (North)"
               in line for line in lines), lines
    zh = alert_lines(client, "/?lang=zh")  # the overview lists the open ones
    assert any(line.startswith("番茄 · ") and "93%, North 1 (North)" in line for line in zh), zh
    assert not any("north-1" in line or "soil_moisture" in line for line in lines + zh)


def test_cards_name_nodes_by_name_and_show_no_other_farm(client: httpx.Client) -> None:
    detections = text(client, "/detections?lang=en")
    assert "· North 1 ·" in detections and "north-1" not in detections
    models = text(client, "/models?lang=en")
    assert "North 1" in models and "River 1" in models
    assert "hill-9" not in models and "Hill 9" not in models  # the other farm's node
    assert "offered" in models and "waiting for its phase" in models  # states in words


def test_english_dates_have_one_format_on_every_page(client: httpx.Client) -> None:
    dates = re.compile(r"\b\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4}\b")
    found = {path: dates.findall(text(client, path + "?lang=en"))
             for path in ("/", "/alerts", "/detections", "/models", "/nodes/north-1")}
    assert all(found.values()), found
    odd = {p: [d for d in ds if not re.fullmatch(r"\d{2}/\d{2}/\d{4}", d)]
           for p, ds in found.items()}
    assert not any(odd.values()), odd
