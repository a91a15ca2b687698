"""A risk day in words for the people who read it: why (the rule), the figures behind it and
what to do, in the reader's language; the dashboard's field page and the alert messages both
use it. Numbers are formatted by the caller's ``numbers`` (the dashboard: the reader's locale;
a message: :data:`PLAIN`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Protocol

from agrifleet.fleet.risk import words
from agrifleet.fleet.risk.outcome import DayRisk

Gettext = Callable[[str], str]


class Numbers(Protocol):
    """How numbers are written (fleet.web.dashboard.i18n.Formats is one)."""

    def number(self, value: float | int | None, digits: int = 1) -> str: ...

    def unit(self, value: float | None, unit: str) -> str: ...


class PlainNumbers:
    """Numbers as Python writes them (``12.5 °C``), for messages outside the dashboard."""

    def number(self, value: float | int | None, digits: int = 1) -> str:
        return "–" if value is None else f"{value:.{digits}f}"

    def unit(self, value: float | None, unit: str) -> str:
        return f"{self.number(value, 0 if unit == '%' else 1)} {unit}".strip()


PLAIN = PlainNumbers()


def day_of(params: dict[str, Any]) -> DayRisk | None:
    """The day a risk alert's params describe, or None when they are not a risk day's."""
    try:
        return DayRisk(date.fromisoformat(str(params["date"])), str(params["model"]),
                       params["risk"], dict(params.get("reason") or {}))
    except (KeyError, ValueError, TypeError):
        return None


def why(day: DayRisk, gettext: Gettext, today: date | None = None) -> str:
    """The rule that decided the day, in words (missing hours of ``today``: it is not over)."""
    rule = str(day.reason.get("rule", ""))
    if day.date == today and rule == "missing_hours":
        return gettext(words.TODAY_NOT_OVER)
    msgid = words.RULES.get(rule)
    return gettext(msgid) if msgid else gettext(words.UNKNOWN_RULE) % {"rule": rule}


def figures(day: DayRisk, gettext: Gettext, fmt: Numbers,
            day_text: Callable[[date], str] = date.isoformat) -> str:
    """The figures behind the day, formatted with their units; '' for an unknown model."""
    reason: dict[str, Any] = dict(day.reason)
    thresholds: dict[str, Any] = dict(reason.get("thresholds") or {})
    msgid = words.FIGURES.get(day.model)
    if msgid is None:
        return ""

    def count(key: str, source: dict[str, Any] = reason) -> str:
        value = source.get(key)
        return fmt.number(value, 0) if isinstance(value, int | float) else "–"

    def degrees(key: str) -> str:
        value = reason.get(key)
        return fmt.unit(value, "°C") if isinstance(value, int | float) else "–"

    since = reason.get("since")
    values = {
        "min_temperature": degrees("min_temperature"),
        "humid_hours": count("humid_hours"),
        "humid_rh": fmt.unit(thresholds.get("humid_rh"), "%"),
        "severity": count("severity"),
        "severity_sum": count("severity_sum"),
        "window_days": count("window_days", thresholds),
        "since": day_text(date.fromisoformat(since)) if isinstance(since, str) else "–",
        "spray_interval": count("spray_interval", thresholds),
        "wet_hours": count("wet_hours"),
        "favourable_days_in_a_row": count("favourable_days_in_a_row"),
    }
    text = gettext(msgid) % values
    missing = reason.get("missing_hours")
    if isinstance(missing, int) and missing > 0:
        text += " " + gettext(words.MISSING) % {"hours": fmt.number(missing, 0)}
    return text


def to_do(risk: str, disease: str, gettext: Gettext) -> str:
    """What to do at this level, for this disease."""
    if risk == "high":
        return gettext(words.TO_DO_HIGH.get(disease, words.TO_DO_HIGH["late_blight"]))
    return gettext(words.TO_DO.get(risk, words.TO_DO["unknown"]))
