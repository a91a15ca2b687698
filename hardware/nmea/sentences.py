"""NMEA 0183 sentences: checksums, GGA (fix) and RMC (minimum data), parsed and built.

``$<talker><type>,<fields>*<hh><CR><LF>``: hh is the XOR of every character between ``$`` and
``*``. Any talker is accepted (GP, GN, GL, GA, BD…). A sentence without a checksum is refused,
and so is one whose checksum matches but whose values no receiver can have measured (a faulty
receiver): a position beyond ±90°/±180°, a malformed coordinate, nan, inf or an implausible
altitude or speed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KNOTS_TO_MPS = 1852 / 3600
_SENTENCE = re.compile(rb"^\$(?P<body>[A-Z][A-Z0-9]{4}(?:,[ -~]*)?)\*(?P<cs>[0-9A-Fa-f]{2})\r?\n?$")
#: ``ddmm.mmmm`` / ``dddmm.mmmm``: fixed degree digits, two minute digits, a fraction.
_COORDINATE = {
    digits: re.compile(rf"^(?P<degrees>[0-9]{{{digits}}})(?P<minutes>[0-9]{{2}}\.[0-9]+)$")
    for digits in (2, 3)
}
_DECIMAL = re.compile(r"^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
#: Plausible altitudes (m above mean sea level): the Dead Sea shore to civilian receivers'
#: 18 km limit. A faulty receiver's 99999 or inf is refused like a bad checksum.
ALTITUDE_M = (-1000.0, 18000.0)
#: Civilian receivers stop reporting above 1000 knots (about 515 m/s).
MAX_KNOTS = 1000.0


class SentenceError(ValueError):
    """A line that is not a well-formed NMEA sentence with a matching checksum."""


@dataclass(frozen=True)
class Gga:
    """Position fix: quality 0 means no fix."""

    latitude: float | None
    longitude: float | None
    quality: int
    satellites: int
    altitude: float | None


@dataclass(frozen=True)
class Rmc:
    """Recommended minimum data: status A means the fix is valid."""

    valid: bool
    latitude: float | None
    longitude: float | None
    speed_mps: float | None


def checksum(body: str) -> str:
    """The two hex digits for a sentence body (between ``$`` and ``*``)."""
    value = 0
    for char in body.encode("ascii"):
        value ^= char
    return f"{value:02X}"


def build(body: str) -> bytes:
    """A complete sentence line for ``body``, e.g. build("GPGGA,...")."""
    return f"${body}*{checksum(body)}\r\n".encode("ascii")


def split(line: bytes) -> tuple[str, list[str]]:
    """(sentence type such as "GGA", fields) of a checked sentence; SentenceError otherwise."""
    if len(line) > 84:
        raise SentenceError(f"longer than NMEA's 82 characters: {line[:40]!r}…")
    match = _SENTENCE.match(line)
    if not match:
        raise SentenceError(f"not an NMEA sentence with a checksum: {line!r}")
    body = match["body"].decode("ascii")
    if checksum(body) != match["cs"].decode("ascii").upper():
        raise SentenceError(f"checksum mismatch: {line!r}")
    fields = body.split(",")
    return fields[0][2:], fields[1:]


def _coordinate(value: str, hemisphere: str, degree_digits: int) -> float | None:
    """Signed degrees of ``ddmm.mmmm`` (``dddmm.mmmm`` for longitude); refuses what no fix has."""
    if not value and not hemisphere:
        return None
    allowed = ("N", "S") if degree_digits == 2 else ("E", "W")
    match = _COORDINATE[degree_digits].match(value)
    if hemisphere not in allowed or not match:
        raise SentenceError(f"bad coordinate {value!r} {hemisphere!r}")
    minutes = float(match["minutes"])
    if minutes >= 60:
        raise SentenceError(f"bad coordinate minutes {value!r}")
    result = int(match["degrees"]) + minutes / 60
    limit = 90 if degree_digits == 2 else 180
    if result > limit:
        raise SentenceError(f"coordinate {value!r} {hemisphere} is beyond {limit} degrees")
    return -result if hemisphere in ("S", "W") else result


def _number(value: str, low: float, high: float, name: str) -> float | None:
    """A plain decimal field (no exponent, nan or inf) within [low, high]; None when empty."""
    if not value:
        return None
    if not _DECIMAL.match(value):
        raise SentenceError(f"{name} {value!r} is not a decimal number")
    number = float(value)
    if not low <= number <= high:
        raise SentenceError(f"{name} {number:g} is outside [{low:g}, {high:g}]")
    return number


def _count(value: str, high: int, name: str) -> int:
    """A small unsigned integer field (empty is 0)."""
    if not value:
        return 0
    if not value.isascii() or not value.isdigit() or int(value) > high:
        raise SentenceError(f"{name} {value!r} is not a whole number 0..{high}")
    return int(value)


def parse_gga(fields: list[str]) -> Gga:
    """GGA: time, lat, N/S, lon, E/W, quality, satellites, HDOP, altitude, M, …"""
    if len(fields) < 10:
        raise SentenceError(f"GGA has {len(fields)} fields, needs at least 10")
    try:
        return Gga(
            latitude=_coordinate(fields[1], fields[2], 2),
            longitude=_coordinate(fields[3], fields[4], 3),
            quality=_count(fields[5], 9, "fix quality"),
            satellites=_count(fields[6], 99, "satellites"),
            altitude=_number(fields[8], *ALTITUDE_M, "altitude"),
        )
    except ValueError as exc:
        raise SentenceError(f"bad GGA field: {exc}") from exc


def parse_rmc(fields: list[str]) -> Rmc:
    """RMC: time, status A/V, lat, N/S, lon, E/W, speed (knots), course, date, …"""
    if len(fields) < 9:
        raise SentenceError(f"RMC has {len(fields)} fields, needs at least 9")
    if fields[1] not in ("A", "V"):
        raise SentenceError(f"RMC status {fields[1]!r} is neither A nor V")
    try:
        knots = _number(fields[6], 0.0, MAX_KNOTS, "speed (knots)")
        return Rmc(
            valid=fields[1] == "A",
            latitude=_coordinate(fields[2], fields[3], 2),
            longitude=_coordinate(fields[4], fields[5], 3),
            speed_mps=None if knots is None else knots * KNOTS_TO_MPS,
        )
    except ValueError as exc:
        raise SentenceError(f"bad RMC field: {exc}") from exc


def format_coordinate(value: float, degree_digits: int, hemispheres: str) -> tuple[str, str]:
    """(ddmm.mmmmm or dddmm.mmmmm, hemisphere letter) for a signed coordinate in degrees."""
    hemisphere = hemispheres[0] if value >= 0 else hemispheres[1]
    value = abs(value)
    degrees = int(value)
    minutes = round((value - degrees) * 60, 5)
    if minutes >= 60:  # 10.9999999 is 11 degrees 00.00000, not 10 degrees 60.00000
        degrees, minutes = degrees + 1, 0.0
    return f"{degrees:0{degree_digits}d}{minutes:08.5f}", hemisphere
