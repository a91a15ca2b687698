"""Charts drawn on the server as small inline SVG, from the fleet's downsampled readings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Literal

from agrifleet.fleet.telemetry.tables import ReadingBucket

Span = Literal["hour", "day", "week", "season"]
#: Each span's length and bucket size: about 60–120 points per chart, whatever the span.
SPANS: dict[Span, tuple[timedelta, int]] = {
    "hour": (timedelta(hours=1), 60),
    "day": (timedelta(days=1), 15 * 60),
    "week": (timedelta(days=7), 2 * 3600),
    "season": (timedelta(days=120), 86400),
}
WIDTH, HEIGHT, PAD_L, PAD_B, PAD_T = 320, 120, 40, 18, 8


@dataclass
class Series:
    sensor: str
    quantity: str
    unit: str
    buckets: list[ReadingBucket]


def window(span: Span, now: datetime | None = None) -> tuple[datetime, datetime, int]:
    """(since, until, bucket seconds) of a span ending now."""
    length, bucket = SPANS[span]
    until = now or datetime.now(UTC)
    return until - length, until, bucket


def group(buckets: Sequence[ReadingBucket], units: dict[tuple[str, str], str]) -> list[Series]:
    """The buckets split per sensor and quantity (the query returns them in that order)."""
    out: dict[tuple[str, str], Series] = {}
    for b in buckets:
        key = (b.sensor, b.quantity)
        if key not in out:
            out[key] = Series(b.sensor, b.quantity, units.get(key, ""), [])
        out[key].buckets.append(b)
    return list(out.values())


def svg(series: Series, since: datetime, until: datetime, label: str,
        number: Callable[[float], str], when: Callable[[datetime], str],
        unit: str | None = None) -> str:
    """A line of the means with a band from min to max; the axes say the range and the span
    (``unit``: the unit as people write it, else the series' unit code)."""
    pts = series.buckets
    if not pts:
        return ""
    lo = min(b.min for b in pts)
    hi = max(b.max for b in pts)
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    span = (until - since).total_seconds() or 1.0
    plot_w, plot_h = WIDTH - PAD_L - 4, HEIGHT - PAD_B - PAD_T

    def x(ts: datetime) -> float:
        return PAD_L + plot_w * min(max((ts - since).total_seconds() / span, 0.0), 1.0)

    def y(v: float) -> float:
        return PAD_T + plot_h * (1 - (v - lo) / (hi - lo))

    line = " ".join(f"{x(b.start):.1f},{y(b.mean):.1f}" for b in pts)
    band = " ".join([f"{x(b.start):.1f},{y(b.max):.1f}" for b in pts]
                    + [f"{x(b.start):.1f},{y(b.min):.1f}" for b in reversed(pts)])
    dots = "" if len(pts) > 1 else (
        f'<circle cx="{x(pts[0].start):.1f}" cy="{y(pts[0].mean):.1f}" r="3" class="line-dot"/>')
    unit = escape(series.unit if unit is None else unit)
    return (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" class="chart" role="img" '
        f'aria-label="{escape(label)}">'
        f'<title>{escape(label)}</title>'
        f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{HEIGHT - PAD_B}" class="axis"/>'
        f'<line x1="{PAD_L}" y1="{HEIGHT - PAD_B}" x2="{WIDTH - 4}" y2="{HEIGHT - PAD_B}" '
        f'class="axis"/>'
        f'<text x="{PAD_L - 3}" y="{PAD_T + 8}" class="tick" text-anchor="end">'
        f'{escape(number(hi))}</text>'
        f'<text x="{PAD_L - 3}" y="{HEIGHT - PAD_B}" class="tick" text-anchor="end">'
        f'{escape(number(lo))}</text>'
        f'<text x="{PAD_L}" y="{HEIGHT - 4}" class="tick">{escape(when(since))}</text>'
        f'<text x="{WIDTH - 4}" y="{HEIGHT - 4}" class="tick" text-anchor="end">'
        f'{escape(when(until))}</text>'
        f'<text x="{WIDTH - 4}" y="{PAD_T + 8}" class="tick" text-anchor="end">{unit}</text>'
        f'<polygon points="{band}" class="band"/>'
        f'<polyline points="{line}" class="line"/>{dots}</svg>'
    )
