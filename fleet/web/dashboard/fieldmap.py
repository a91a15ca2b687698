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


def tile_of(lon: float, lat: float, z: int) -> tuple[float, float]:
    """Web Mercator tile coordinates (fractional) of a position at zoom z."""
    n = 2 ** z
    lat_r = math.radians(max(min(lat, 85.0511), -85.0511))
    return (lon + 180) / 360 * n, (1 - math.asinh(math.tan(lat_r)) / math.pi) / 2 * n


def tile_corner(x: float, y: float, z: int) -> tuple[float, float]:
    """(lon, lat) of a tile corner."""
    n = 2 ** z
    return x / n * 360 - 180, math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))


def svg(pins: Sequence[Pin], outline: dict[str, Any] | None, title: str,
        online_text: str, offline_text: str, tile_url: str | None = None) -> str:
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
    if tile_url:
        parts.extend(_tiles(tile_url, lon0, lat0, extent / k, xy))
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


def _tiles(url: str, lon0: float, lat0: float, extent_deg: float,
           xy: Any) -> list[str]:
    """The 3×3 tiles around the centre, at the zoom where one tile spans about the field."""
    z = max(1, min(19, math.floor(math.log2(360 / max(extent_deg, 1e-6)))))
    cx, cy = tile_of(lon0, lat0, z)
    out = []
    for tx in range(int(cx) - 1, int(cx) + 2):
        for ty in range(int(cy) - 1, int(cy) + 2):
            if not (0 <= ty < 2 ** z):
                continue
            x0, y0 = xy(*tile_corner(tx, ty, z))
            x1, y1 = xy(*tile_corner(tx + 1, ty + 1, z))
            href = url.replace("{z}", str(z)).replace("{x}", str(tx % 2 ** z)).replace(
                "{y}", str(ty))
            out.append(f'<image href="{escape(href)}" x="{x0:.1f}" y="{y0:.1f}" '
                       f'width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" preserveAspectRatio="none"/>')
    return out
