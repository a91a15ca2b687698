"""A field's disease risk on its page: a chart of the last 14 days per model of the crop, the
latest decided day's risk, why in words and what to do, in vi, zh and en, and an honest word
that no forecast days are computed. The chart is checked as SVG; the page in Debian's chromium
against a fleet served for real, with a potato field whose node measured a dry week and then a
blight week. (The words themselves: tests/fleet/risk/test_explain.py.)"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlmodel import Session

from agrifleet.fleet.catalogs import translations
from agrifleet.fleet.devices.tables import DEFAULT_FARM_ID, Device
from agrifleet.fleet.people.tables import Field_
from agrifleet.fleet.risk import words
from agrifleet.fleet.risk.outcome import DayRisk, Risk
from agrifleet.fleet.web.dashboard import risk_view
from agrifleet.fleet.web.dashboard.i18n import Formats
from tests.fleet.device import reading
from tests.fleet.web.api.rows import store_items
from tests.fleet.web.dashboard.conftest import Site

TODAY = date(2026, 7, 10)
HUTTON = {"min_temperature": 10.0, "humid_rh": 90.0, "humid_hours": 6}


def hutton_day(risk: Risk, rule: str, when: date = TODAY - timedelta(days=1),
               **facts: Any) -> DayRisk:
    reason = {"rule": rule, "min_temperature": 12.5, "humid_hours": 9, "missing_hours": 0,
              "previous_day_met": True, "thresholds": HUTTON, **facts}
    return DayRisk(when, "hutton", risk, reason)


def test_the_chart_has_a_bar_per_day_whose_height_says_the_level() -> None:
    en = translations("en").gettext
    levels: tuple[Risk, ...] = ("low", "moderate", "high", "unknown")
    days = [hutton_day(r, "x", TODAY - timedelta(days=3 - i)) for i, r in enumerate(levels)]
    drawn = risk_view.svg(days, [], en, Formats("en"), TODAY, "Late blight risk")
    assert drawn.count("<rect ") == 4 and 'class="today"' not in drawn
    heights = [float(part.split('height="')[1].split('"')[0])
               for part in drawn.split("<rect ")[1:]]
    assert heights[0] < heights[1] < heights[2] and heights[3] < heights[0]
    assert "<title>10 Jul: unknown</title>" in drawn and 'class="risk-high"' in drawn
    later = [hutton_day("high", "x", TODAY + timedelta(days=1))]
    assert 'class="today"' in risk_view.svg(days, later, en, Formats("en"), TODAY, "x")
    assert "risk-high forecast" in risk_view.svg(days, later, en, Formats("en"), TODAY, "x")


def add_potato_field(site: Site, now: datetime) -> tuple[int, date]:
    """A potato field and its node, whose readings go through the real writer: dry days, then
    from 6 days ago warm nights with 9 humid hours, hourly until now; returns the field's id
    and yesterday."""
    today = now.date()
    with Session(site.app.state.engine) as session:
        field = Field_(name="Potato hill", crop="khoai tây", farm_id=DEFAULT_FARM_ID)
        session.add(field)
        session.flush()
        session.add(Device(id="air-7", name="Air 7", online=True, farm_id=DEFAULT_FARM_ID,
                           field_id=field.id, last_seen=now))
        session.commit()
        assert field.id is not None
        field_id = field.id
    items, seq = [], 0
    ts = datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(days=15)
    while ts < now:
        blight = ts.date() >= today - timedelta(days=6)
        humid = 95.0 if blight and ts.hour < 9 else 70.0
        items.append(reading(seq, 14.0, "air", "air_temperature", "degC", ts))
        items.append(reading(seq + 1, humid, "air", "relative_humidity", "%", ts))
        seq, ts = seq + 2, ts + timedelta(hours=1)
    store_items(site.app, "air-7", items)
    return field_id, today - timedelta(days=1)


def test_the_field_page_charts_the_risk_and_says_why_and_what_to_do_in_three_languages(
        site: Site, page: Any, artifacts: Path) -> None:
    field_id, yesterday = add_potato_field(site, datetime.now(UTC))
    site.login(page)
    page.goto(f"{site.url}/fields/{field_id}")
    hutton = page.locator(".risk-model[data-model=hutton]")
    expect(hutton.locator("h3")).to_have_text("Late blight · Hutton Criteria")
    bars = hutton.locator("svg.risk-chart rect")
    expect(bars).to_have_count(risk_view.DAYS)
    expect(hutton.locator(f"rect[data-date='{yesterday}']")).to_have_class("risk-high")
    before = yesterday - timedelta(days=7)
    expect(hutton.locator(f"rect[data-date='{before}']")).to_have_class("risk-low")
    expect(hutton.locator(".risk-word")).to_have_text("high")
    expect(hutton.locator(".risk-why")).to_contain_text("a Hutton period")
    expect(hutton.locator(".risk-why")).to_contain_text("Minimum 14.0 °C, 9 hours at 90 %")
    expect(hutton.locator(".risk-todo")).to_contain_text("Protect the crop now")
    expect(hutton.locator(".risk-forecast")).to_contain_text("No forecast days")
    expect(page.locator(".risk-model")).to_have_count(4)  # hutton, smith, blitecast, tomcast

    for lang in ("vi", "zh"):
        t = translations(lang).gettext
        page.goto(f"{site.url}/fields/{field_id}?lang={lang}")
        hutton = page.locator(".risk-model[data-model=hutton]")
        expect(page.locator("#risk-h")).to_have_text(t("Disease risk"))
        expect(hutton.locator(".risk-word")).to_have_text(t("high"))
        expect(hutton.locator(".risk-why")).to_contain_text(t(words.RULES["hutton_period"]))
        expect(hutton.locator(".risk-todo")).to_have_text(
            t(words.TO_DO_HIGH["late_blight"]))
        expect(hutton.locator("h3")).to_contain_text(t(words.MODELS["hutton"]))
        assert t(words.RULES["hutton_period"]) != words.RULES["hutton_period"]
        page.screenshot(path=str(artifacts / "screenshots" / f"field-risk-{lang}.png"),
                        full_page=True)
