"""A field's disease risk on its page: per model of the crop, the last 14 days as a chart, and
for the latest decided day the risk, why (the rule and its figures in words) and what to do,
in the reader's language.

The models judge measured days only: none gives forecast days, so :func:`rows` asks for days
up to today and the page says there are none. :func:`svg` can draw forecast days (dashed,
after a line at today) for a model that one day gives them; nothing here makes one up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import escape

from babel.dates import format_date
from sqlmodel import Session

from agrifleet.fleet.alerts.delivery.message import RISK_DISEASES
from agrifleet.fleet.catalogs import translations
from agrifleet.fleet.people.tables import Field_
from agrifleet.fleet.risk import explain, registry, words
from agrifleet.fleet.risk.assess import field_risk
from agrifleet.fleet.risk.outcome import DayRisk
from agrifleet.fleet.texts import N_
from agrifleet.fleet.web.dashboard.i18n import Formats, Lang

Gettext = Callable[[str], str]

#: Days of the chart, today included.
DAYS = 14
CHART_LABEL = N_("%(disease)s risk per day (%(model)s), the last %(days)s days")
#: Bar height per level (a share of the plot), so the level never rests on colour alone.
HEIGHTS = {"high": 1.0, "moderate": 0.66, "low": 0.33, "unknown": 0.12}
WIDTH, HEIGHT, PAD_L, PAD_B, PAD_T = 320, 120, 56, 18, 8


@dataclass
class ModelRisk:
    """One model's part of the field page, in words."""

    model: str
    name: str
    disease: str
    days: list[DayRisk]
    forecast: list[DayRisk]
    latest: DayRisk
    date_text: str  # the latest day's date, as the reader writes dates
    level: str
    why: str
    figures: str
    to_do: str
    chart: str


def rows(session: Session, field_id: int, lang: Lang, timezone: str = "UTC",
         today: date | None = None) -> list[ModelRisk]:
    """Each model of the field's crop, in catalogue order ([] for a crop no model fits)."""
    field = session.get(Field_, field_id)
    if field is None:
        return []
    today = today or datetime.now(UTC).date()
    since = today - timedelta(days=DAYS - 1)
    found = field_risk(session, field, since, today)
    gettext = translations(lang).gettext
    fmt = Formats(lang, timezone)
    out = []
    for model in registry.models_for(field.crop):
        mine = [d for d in found if d.model == model]
        if not mine:
            continue
        measured = [d for d in mine if d.date <= today]
        forecast = [d for d in mine if d.date > today]
        decided = [d for d in measured if d.risk != "unknown"]
        latest = decided[-1] if decided else measured[-1]
        disease = disease_name(registry.disease_of(model), gettext)
        name = gettext(words.MODELS.get(model, model))
        out.append(ModelRisk(
            model=model, name=name, disease=disease, days=measured, forecast=forecast,
            latest=latest, date_text=format_date(latest.date, "medium", locale=fmt.locale),
            level=gettext(words.LEVELS[latest.risk]),
            why=explain.why(latest, gettext, today),
            figures=explain.figures(latest, gettext, fmt, lambda d: format_date(
                d, "medium", locale=fmt.locale)),
            to_do=explain.to_do(latest.risk, registry.disease_of(model), gettext),
            chart=svg(measured, forecast, gettext, fmt, today,
                      gettext(CHART_LABEL) % {"disease": disease, "model": name,
                                              "days": DAYS}),
        ))
    return out


def disease_name(disease: str, gettext: Gettext) -> str:
    name, _label = RISK_DISEASES.get(disease, (disease, None))
    return gettext(name)


def svg(days: list[DayRisk], forecast: list[DayRisk], gettext: Gettext, fmt: Formats,
        today: date, label: str) -> str:
    """A bar per day, its height and colour by level (forecast days dashed, after today)."""
    every = days + forecast
    if not every:
        return ""
    plot_w, plot_h = WIDTH - PAD_L - 4, HEIGHT - PAD_B - PAD_T
    step = plot_w / len(every)
    base = HEIGHT - PAD_B

    def short(d: date) -> str:
        return format_date(d, "d MMM", locale=fmt.locale)

    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" class="chart risk-chart" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>',
        f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{base}" class="axis"/>',
        f'<line x1="{PAD_L}" y1="{base}" x2="{WIDTH - 4}" y2="{base}" class="axis"/>',
    ]
    for level in ("high", "moderate", "low"):
        y = base - plot_h * HEIGHTS[level]
        parts.append(f'<text x="{PAD_L - 3}" y="{y + 3:.1f}" class="tick" text-anchor="end">'
                     f'{escape(gettext(words.LEVELS[level]))}</text>')
    for i, day in enumerate(every):
        height = plot_h * HEIGHTS.get(day.risk, HEIGHTS["unknown"])
        kind = " forecast" if day.date > today else ""
        words_ = f"{short(day.date)}: {gettext(words.LEVELS.get(day.risk, day.risk))}"
        parts.append(
            f'<rect x="{PAD_L + i * step + 1:.1f}" y="{base - height:.1f}" '
            f'width="{max(step - 2, 1):.1f}" height="{height:.1f}" '
            f'class="risk-{escape(day.risk)}{kind}" data-date="{day.date.isoformat()}">'
            f'<title>{escape(words_)}</title></rect>')
    if forecast:
        x = PAD_L + len(days) * step
        parts.append(f'<line x1="{x:.1f}" y1="{PAD_T}" x2="{x:.1f}" y2="{base}" class="today"/>')
    parts.append(f'<text x="{PAD_L}" y="{HEIGHT - 4}" class="tick">'
                 f'{escape(short(every[0].date))}</text>')
    parts.append(f'<text x="{WIDTH - 4}" y="{HEIGHT - 4}" class="tick" text-anchor="end">'
                 f'{escape(short(every[-1].date))}</text></svg>')
    return "".join(parts)
