"""A field drawn as SVG: its outline (GeoJSON polygon) and its nodes at their GPS positions.

No map tiles: an equirectangular projection around the field's centre is exact enough for a
field a few hundred metres across. Tiles appear only when AGRIFLEET_MAP_TILE_URL is set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

SIZE = 320
MARGIN = 16


@dataclass
class Pin:
    device_id: str
    name: str
    latitude: float
    longitude: float
    online: bool
    href: str


def outline_rings(geojson: dict[str, Any] | None) -> list[list[tuple[float, float]]]:
    """The outer rings of a Polygon or MultiPolygon as (lon, lat) pairs; [] for anything else."""
    if not isinstance(geojson, dict):
        return []
    if geojson.get("type") == "Feature":
        return outline_rings(geojson.get("geometry"))
    coords = geojson.get("coordinates")
    try:
        if geojson.get("type") == "Polygon":
            return [[(float(p[0]), float(p[1])) for p in coords[0]]]  # type: ignore[index]
        if geojson.get("type") == "MultiPolygon":
            return [[(float(p[0]), float(p[1])) for p in poly[0]] for poly in coords]  # type: ignore[union-attr]
    except (TypeError, ValueError, IndexError, KeyError):
        return []
    return []


def svg(pins: Sequence[Pin], outline: dict[str, Any] | None, title: str,
        online_text: str, offline_text: str) -> str:
    """The map, or "" when there is nothing with a position to draw."""
    rings = outline_rings(outline)
    points = [pt for ring in rings for pt in ring] + [(p.longitude, p.latitude) for p in pins]
    if not points:
        return ""
    lon0 = (min(p[0] for p in points) + max(p[0] for p in points)) / 2
    lat0 = (min(p[1] for p in points) + max(p[1] for p in points)) / 2
    k = math.cos(math.radians(lat0))

    def raw(lon: float, lat: float) -> tuple[float, float]:
        return (lon - lon0) * k, lat - lat0

    xs = [raw(*p)[0] for p in points]
    ys = [raw(*p)[1] for p in points]
    extent = max(max(xs) - min(xs), max(ys) - min(ys)) or 1e-4
    scale = (SIZE - 2 * MARGIN) / extent
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2

    def xy(lon: float, lat: float) -> tuple[float, float]:
        x, y = raw(lon, lat)
        return SIZE / 2 + (x - cx) * scale, SIZE / 2 - (y - cy) * scale

    parts = [f'<svg viewBox="0 0 {SIZE} {SIZE}" class="map" role="group" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for ring in rings:
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(*p) for p in ring))
        parts.append(f'<polygon points="{pts}" class="outline"/>')
    for pin in pins:
        x, y = xy(pin.longitude, pin.latitude)
        state = online_text if pin.online else offline_text
        cls = "pin-on" if pin.online else "pin-off"
        parts.append(
            f'<a href="{escape(pin.href)}" aria-label="{escape(pin.name or pin.device_id)}: '
            f'{escape(state)}"><circle cx="{x:.1f}" cy="{y:.1f}" r="8" '
            f'class="{cls}"><title>{escape(pin.name or pin.device_id)}: {escape(state)}</title>'
            f'</circle><text x="{x + 11:.1f}" y="{y + 4:.1f}" class="pin-label">'
            f'{escape(pin.name or pin.device_id)}</text></a>')
    parts.append("</svg>")
    return "".join(parts)
