"""The field map: the outline and the nodes projected into the same square, the offline ones
marked, anything that is not a polygon ignored, and tiles only when a tile URL is set."""

from __future__ import annotations

import re

from agrifleet.fleet.web.dashboard.fieldmap import Pin, outline_rings, svg, tile_corner, tile_of

OUTLINE = {"type": "Polygon", "coordinates": [[[105.769, 10.031], [105.771, 10.031],
                                               [105.771, 10.033], [105.769, 10.033],
                                               [105.769, 10.031]]]}
PINS = [Pin("a", "A", 10.032, 105.770, True, "/nodes/a"),
        Pin("b", "B <b>", 10.0325, 105.7705, False, "/nodes/b")]


def circles(drawn: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r'cx="([\d.]+)" cy="([\d.]+)"', drawn)]


def test_nodes_fall_inside_the_outline_and_north_is_up() -> None:
    drawn = svg(PINS, OUTLINE, "map", "online", "offline")
    (ax, ay), (bx, by) = circles(drawn)
    xs = [float(v) for v in re.findall(r"([\d.]+),[\d.]+", drawn.split('points="')[1])]
    assert min(xs) < ax < bx < max(xs)
    assert by < ay  # b is further north: higher up
    assert drawn.count('class="pin-off"') == 1 and "B &lt;b&gt;" in drawn
    assert "<image" not in drawn


def test_only_polygons_are_outlines() -> None:
    assert outline_rings({"type": "Point", "coordinates": [1, 2]}) == []
    assert outline_rings({"type": "Polygon", "coordinates": "nonsense"}) == []
    assert outline_rings(None) == []
    assert svg([], None, "map", "on", "off") == ""


def test_tiles_are_drawn_when_a_tile_url_is_set() -> None:
    drawn = svg(PINS, OUTLINE, "map", "on", "off", "https://tiles.example/{z}/{x}/{y}.png")
    assert drawn.count("<image") == 9
    found = re.search(r"tiles.example/(\d+)/(\d+)/(\d+)", drawn)
    assert found is not None
    z, x, y = map(int, found.groups())
    lon, lat = tile_corner(x, y, z)
    assert abs(tile_of(lon, lat, z)[0] - x) < 1e-9
    assert 10 <= z <= 19
