"""A risk day in words: the rule that decided it, its figures with their units in the reader's
language, what to do per level and disease; a newer model's rule or an odd alert's params give
its code or nothing, never an error."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from agrifleet.fleet.catalogs import translations
from agrifleet.fleet.risk import explain, words
from agrifleet.fleet.risk.outcome import DayRisk, Risk
from agrifleet.fleet.web.dashboard.i18n import Formats

TODAY = date(2026, 7, 10)
HUTTON = {"min_temperature": 10.0, "humid_rh": 90.0, "humid_hours": 6}


def hutton_day(risk: Risk, rule: str, when: date = TODAY - timedelta(days=1),
               **facts: Any) -> DayRisk:
    reason = {"rule": rule, "min_temperature": 12.5, "humid_hours": 9, "missing_hours": 0,
              "previous_day_met": True, "thresholds": HUTTON, **facts}
    return DayRisk(when, "hutton", risk, reason)


def test_a_hutton_period_is_put_in_words_with_its_figures_in_each_language() -> None:
    day = hutton_day("high", "hutton_period")
    en, vi = translations("en").gettext, translations("vi").gettext
    assert explain.why(day, en, TODAY) == words.RULES["hutton_period"]
    assert explain.figures(day, en, Formats("en")) == (
        "Minimum 12.5 °C, 9 hours at 90 % humidity or more.")
    assert explain.figures(day, vi, Formats("vi")) == vi(words.FIGURES["hutton"]) % {
        "min_temperature": "12,5 °C", "humid_hours": "9", "humid_rh": "90 %"}
    assert "12,5 °C" in explain.figures(day, vi, Formats("vi"))
    assert explain.to_do("high", "late_blight", en).startswith("Protect the crop now")
    assert explain.to_do("high", "blast", en).startswith("Check the leaves for grey")


def test_missing_hours_today_say_the_day_is_not_over_and_a_past_day_says_data_is_missing(
        ) -> None:
    en = translations("en").gettext
    today = hutton_day("unknown", "missing_hours", TODAY, missing_hours=14)
    past = hutton_day("unknown", "missing_hours", TODAY - timedelta(days=3), missing_hours=5)
    assert explain.why(today, en, TODAY) == words.TODAY_NOT_OVER
    assert explain.why(past, en, TODAY) == words.RULES["missing_hours"]
    assert explain.figures(past, en, Formats("en")).endswith("5 hours without data.")
    assert explain.to_do("unknown", "late_blight", en).startswith("Check that the field's")
    odd = DayRisk(TODAY, "somebody_elses", "low", {"rule": "new_rule"})
    assert explain.why(odd, en, TODAY) == "Rule new_rule"  # a newer model: its code, no crash
    assert explain.figures(odd, en, Formats("en")) == ""


def test_the_plain_numbers_of_a_message_and_an_alerts_params_as_a_day() -> None:
    en = translations("en").gettext
    params = {"date": "2026-07-09", "model": "tomcast", "risk": "moderate", "reason": {
        "rule": "approaching_spray_interval", "severity": 3, "severity_sum": 16,
        "since": "2026-07-01", "missing_hours": 0, "thresholds": {"spray_interval": 20}}}
    day = explain.day_of(params)
    assert day is not None and (day.date, day.risk) == (date(2026, 7, 9), "moderate")
    assert explain.figures(day, en, explain.PLAIN) == (
        "Severity value 3; 16 since 2026-07-01, spray at 20.")
    assert explain.day_of({"model": "hutton"}) is None  # not a risk day's params: no words
    assert explain.day_of({**params, "date": "9 July"}) is None
