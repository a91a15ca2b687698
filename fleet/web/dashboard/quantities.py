"""Readings and crops in words: quantity codes, unit codes and field crops as people write them.

Nodes send codes (``soil_ec``, ``uS/cm``, ``count``) and farms type crops (``rice``); the pages
show "Soil conductivity 850 µS/cm" and "Rice" in the reader's language. Every name is an ``N_``
msgid of the ``messages`` catalogs, except the crops the disease model knows, which are the
``diseases`` catalogs' crop names (:data:`fleet.modelops.advice.NAMES`).
``tests/fleet/web/dashboard/
test_quantities.py`` fails when a code the project can emit (hardware profiles, the GPS, the
demo's nodes, the model's crops) has no name here or no translation in a catalog.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from agrifleet.fleet.texts import N_

Gettext = Callable[[str], str]

#: Quantity code → its name. Codes are snake_case, as profiles and the GPS write them.
QUANTITIES: dict[str, str] = {
    # soil probes (hardware/modbus/profiles, hardware/sdi12/profiles, the demo's nodes)
    "soil_moisture": N_("Soil moisture"),
    "soil_temperature": N_("Soil temperature"),
    "soil_ec": N_("Soil conductivity"),
    "soil_ph": N_("Soil pH"),
    "soil_permittivity": N_("Soil permittivity"),
    "soil_pore_water_ec": N_("Pore water conductivity"),
    "nitrogen": N_("Nitrogen"),
    "phosphorus": N_("Phosphorus"),
    "potassium": N_("Potassium"),
    # weather sensors
    "air_temperature": N_("Air temperature"),
    "relative_humidity": N_("Relative humidity"),
    "leaf_wetness": N_("Leaf wetness"),
    "rainfall": N_("Rainfall"),
    "vapour_pressure": N_("Vapour pressure"),
    # the GPS (hardware/nmea/gps.py)
    "latitude": N_("Latitude"),
    "longitude": N_("Longitude"),
    "altitude": N_("Altitude"),
    "satellites": N_("Satellites in use"),
    "gps_fix_quality": N_("GPS fix quality"),
    "speed": N_("Speed"),
    # short names older nodes and the test farm send
    "moisture": N_("Soil moisture"),
    "temperature": N_("Temperature"),
    "humidity": N_("Air humidity"),
    "ph": N_("Soil pH"),
    "ec": N_("Soil conductivity"),
}
#: A generic SDI-12 probe's values, ``value_0`` … ``value_n`` (hardware/sdi12/profiles/generic).
NUMBERED = re.compile(r"^value_(\d{1,3})$")
NUMBERED_NAME = N_("Value %(number)s")
#: Quantities that count things: shown as whole numbers, without a unit.
COUNTS = frozenset({"satellites", "gps_fix_quality"})


@dataclass(frozen=True)
class Unit:
    symbol: str  # a msgid ("" for none)
    digits: int  # decimals shown


#: Unit code → how people write it, and how many decimals a reading in it needs.
UNITS: dict[str, Unit] = {
    "": Unit("", 1),
    "%": Unit(N_("%"), 0),
    "degC": Unit(N_("°C"), 1),
    "°C": Unit(N_("°C"), 1),
    "uS/cm": Unit(N_("µS/cm"), 0),
    "µS/cm": Unit(N_("µS/cm"), 0),
    "mS/cm": Unit(N_("mS/cm"), 2),
    "dS/m": Unit(N_("dS/m"), 2),
    "pH": Unit("", 1),  # the quantity is named "Soil pH"; the value stands alone
    "mg/kg": Unit(N_("mg/kg"), 0),
    "deg": Unit(N_("°"), 5),
    "m": Unit(N_("m"), 1),
    "m/s": Unit(N_("m/s"), 1),
    "km/h": Unit(N_("km/h"), 1),
    "mm": Unit(N_("mm"), 1),
    "hPa": Unit(N_("hPa"), 1),
    "kPa": Unit(N_("kPa"), 2),
    "count": Unit("", 0),
}

#: The field crops a farm types, lower case → name. The disease model's crops are named by
#: the diseases catalogs (the same words the detections use); the others are here.
MODEL_CROPS: dict[str, str] = {
    "apple": "Apple", "cherry": "Cherry (including sour)", "corn": "Corn (maize)",
    "maize": "Corn (maize)", "grape": "Grape", "bell pepper": "Pepper, bell",
    "potato": "Potato", "strawberry": "Strawberry", "tomato": "Tomato",
}
CROPS: dict[str, str] = {
    "rice": N_("Rice"),
    "coffee": N_("Coffee"),
    "tea": N_("Tea"),
    "black pepper": N_("Black pepper"),
    "pepper": N_("Black pepper"),
    "chili": N_("Chili"),
    "cassava": N_("Cassava"),
    "sugarcane": N_("Sugarcane"),
    "durian": N_("Durian"),
    "mango": N_("Mango"),
    "banana": N_("Banana"),
    "cashew": N_("Cashew"),
    "rubber": N_("Rubber"),
    "soybean": N_("Soybean"),
    "peanut": N_("Peanut"),
    "wheat": N_("Wheat"),
    "dragon fruit": N_("Dragon fruit"),
    "sweet potato": N_("Sweet potato"),
    "cabbage": N_("Cabbage"),
    "cucumber": N_("Cucumber"),
}


def quantity_msgid(code: str) -> str | None:
    """The msgid naming ``code``, or None for a code nothing names."""
    return QUANTITIES.get(code) or (NUMBERED_NAME if NUMBERED.match(code) else None)


def quantity_name(gettext: Gettext, code: str) -> str:
    """A quantity in words; an unknown code is shown as itself (a profile the fleet does not
    know yet still shows its readings)."""
    msgid = quantity_msgid(code)
    if msgid is None:
        return code
    match = NUMBERED.match(code)
    return gettext(msgid) % {"number": int(match.group(1)) + 1} if match else gettext(msgid)


def unit_symbol(gettext: Gettext, unit: str) -> str:
    """How people write ``unit``: °C for degC, µS/cm for uS/cm; an unknown unit as sent."""
    known = UNITS.get(unit)
    if known is None:
        return unit
    return gettext(known.symbol) if known.symbol else ""


def digits(quantity: str, unit: str) -> int:
    """Decimals a reading needs: none for counts, else as its unit says (one if unknown)."""
    if quantity in COUNTS:
        return 0
    known = UNITS.get(unit)
    return known.digits if known is not None else 1


def crop_msgid(crop: str) -> str | None:
    """The msgid naming a field's crop (any case, surrounding spaces ignored), or None."""
    key = " ".join(crop.lower().split())
    return MODEL_CROPS.get(key) or CROPS.get(key) or next(
        (name for name in MODEL_CROPS.values() if name.lower() == key), None)


def crop_name(gettext: Gettext, crop: str) -> str:
    """A field's crop in words; a crop nobody listed is shown as the farm typed it."""
    msgid = crop_msgid(crop)
    return gettext(msgid) if msgid else crop
