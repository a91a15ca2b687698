"""Every quantity, unit and crop code the project can emit has a name in English and a
translation in the Vietnamese and Chinese catalogs, and readings are written as people write
them (°C, µS/cm, counts as whole numbers).

The codes are read from where they are made: the shipped Modbus and SDI-12 profiles, every
``Measurement("…", …, "…")`` in hardware/ and edge/ (the GPS), the demo's virtual nodes, the
demo's field, and the disease model's crops; a new profile or sensor with a new code fails here
until it is named and translated.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from agrifleet.demo.sim.nodes import QUANTITIES as DEMO_QUANTITIES
from agrifleet.fleet import catalogs
from agrifleet.fleet.modelops.advice import ADVICE_TEXTS
from agrifleet.fleet.web.dashboard import i18n, quantities
from agrifleet.fleet.web.dashboard.render import environment
from agrifleet.hardware.modbus.profile import load_profile as load_modbus
from agrifleet.hardware.modbus.profile import shipped_profiles as modbus_profiles
from agrifleet.hardware.sdi12.profile import load_profile as load_sdi12
from agrifleet.hardware.sdi12.profile import shipped_profiles as sdi12_profiles
from agrifleet.inference.parts import crop_name as model_crop

ROOT = Path(__file__).resolve().parents[4]
#: The weather sensors' quantities (their profiles arrive with the weather station work).
WEATHER = {("air_temperature", "degC"), ("relative_humidity", "%"), ("leaf_wetness", "%"),
           ("rainfall", "mm")}


def measurements_in_code() -> set[tuple[str, str]]:
    """(quantity, unit) of every Measurement built with literal codes in hardware/ and edge/."""
    found = set()
    for folder in ("hardware", "edge"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Measurement"
                        and len(node.args) == 3):
                    quantity, _value, unit = node.args
                    if isinstance(quantity, ast.Constant) and isinstance(unit, ast.Constant):
                        found.add((str(quantity.value), str(unit.value)))
    return found


def emitted() -> set[tuple[str, str]]:
    """(quantity, unit) of everything a node or the demo can send."""
    found = measurements_in_code() | WEATHER
    found |= {(r.quantity, r.unit) for name in modbus_profiles()
              for r in load_modbus(name).registers}
    found |= {(v.quantity, v.unit) for name in sdi12_profiles()
              for v in load_sdi12(name).values}
    found |= {(q, unit) for q, unit, *_ in DEMO_QUANTITIES}
    found |= {(f"value_{i}", "") for i in range(10)}  # a generic SDI-12 probe
    return found


def emitted_crops() -> set[str]:
    """The crops the disease model knows and those the demo and its docs give a field."""
    crops = {model_crop(label).lower() for label in ADVICE_TEXTS}
    sources = [ROOT / "demo" / "local_fleet.py", ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    for path in sources:
        crops |= {c.lower() for c in re.findall(r'"crop":\s*"([^"]+)"', path.read_text())}
    return crops


def catalog(lang: str) -> dict[str, str]:
    """msgid → translation over both domains (empty translations left out)."""
    out: dict[str, str] = {}
    for domain in catalogs.DOMAINS:
        with (catalogs.LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.po").open("rb") as fh:
            for m in read_po(fh):
                if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string:
                    out[m.id] = m.string
    return out


def test_the_sources_are_read() -> None:
    codes = {q for q, _ in emitted()}
    assert {"soil_pore_water_ec", "satellites", "gps_fix_quality", "speed", "altitude",
            "soil_moisture", "nitrogen"} <= codes
    assert {"degC", "uS/cm", "count", "m/s"} <= {u for _, u in emitted()}
    assert {"rice", "tomato", "corn (maize)"} <= emitted_crops()


def test_every_emitted_code_has_an_english_name() -> None:
    unnamed = sorted(q for q, _ in emitted() if quantities.quantity_msgid(q) is None)
    assert not unnamed, f"quantities with no name in fleet/web/dashboard/quantities.py: {unnamed}"
    units = sorted(u for _, u in emitted() if u not in quantities.UNITS)
    assert not units, f"units with no symbol in fleet/web/dashboard/quantities.py: {units}"
    crops = sorted(c for c in emitted_crops() if quantities.crop_msgid(c) is None)
    assert not crops, f"crops with no name in fleet/web/dashboard/quantities.py: {crops}"


@pytest.mark.parametrize("lang", ["vi", "zh"])
def test_every_emitted_code_is_translated(lang: str) -> None:
    words = catalog(lang)
    wanted = {quantities.quantity_msgid(q) for q, _ in emitted()}
    wanted |= {quantities.UNITS[u].symbol for _, u in emitted() if u in quantities.UNITS}
    wanted |= {quantities.crop_msgid(c) for c in emitted_crops()}
    missing = sorted(w for w in wanted if w and w not in words)
    assert not missing, f"no {lang} translation for: {missing}"


@pytest.mark.parametrize(("lang", "quantity", "value", "unit", "shown", "name"), [
    ("en", "soil_temperature", 23.46, "degC", "23.5 °C", "Soil temperature"),
    ("vi", "soil_temperature", 23.46, "degC", "23,5 °C", "Nhiệt độ đất"),
    ("en", "soil_ec", 850.4, "uS/cm", "850 µS/cm", "Soil conductivity"),
    ("zh", "soil_pore_water_ec", 1234.0, "uS/cm", "1,234 µS/cm", "土壤孔隙水电导率"),
    ("vi", "satellites", 9.0, "count", "9", "Số vệ tinh đang dùng"),
    ("en", "gps_fix_quality", 1.0, "", "1", "GPS fix quality"),
    ("en", "soil_moisture", 32.4, "%", "32 %", "Soil moisture"),
    ("en", "soil_ph", 6.43, "pH", "6.4", "Soil pH"),
    ("vi", "rainfall", 12.5, "mm", "12,5 mm", "Lượng mưa"),
    ("en", "value_0", 3.25, "", "3.2", "Value 1"),
    ("en", "made_up_thing", 2.0, "furlongs", "2.0 furlongs", "made_up_thing"),
])
def test_a_reading_is_written_as_people_write_it(lang: i18n.Lang, quantity: str, value: float,
                                                 unit: str, shown: str, name: str) -> None:
    env = environment(lang)
    assert env.globals["reading_text"](quantity, value, unit) == shown  # type: ignore[operator]
    assert env.globals["quantity_text"](quantity) == name  # type: ignore[operator]


@pytest.mark.parametrize(("lang", "crop", "shown"), [
    ("vi", "rice", "Lúa"), ("zh", "Rice", "水稻"), ("vi", "tomato", "Cà chua"),
    ("zh", "Corn (maize)", "玉米"), ("en", "coffee", "Coffee"), ("vi", "lotus", "lotus"),
])
def test_a_fields_crop_is_named_in_the_language(lang: i18n.Lang, crop: str, shown: str) -> None:
    assert environment(lang).globals["crop_text"](crop) == shown  # type: ignore[operator]
