"""NMEA 0183 sentences: checksums, GGA (fix) and RMC (minimum data), parsed and built.

``$<talker><type>,<fields>*<hh><CR><LF>``: hh is the XOR of every character between ``$`` and
``*``. Any talker is accepted (GP, GN, GL, GA, BD…). A sentence without a checksum is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KNOTS_TO_MPS = 1852 / 3600
_SENTENCE = re.compile(rb"^\$(?P<body>[A-Z][A-Z0-9]{4}(?:,[ -~]*)?)\*(?P<cs>[0-9A-Fa-f]{2})\r?\n?$")


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
    if not value and not hemisphere:
        return None
    if hemisphere not in ("N", "S", "E", "W") or "." not in value:
        raise SentenceError(f"bad coordinate {value!r} {hemisphere!r}")
    degrees, minutes = float(value[:degree_digits]), float(value[degree_digits:])
    if minutes >= 60:
        raise SentenceError(f"bad coordinate minutes {value!r}")
    result = degrees + minutes / 60
    return -result if hemisphere in ("S", "W") else result


def _number(value: str, kind: type[float] | type[int] = float) -> float | None:
    return kind(value) if value else None


def parse_gga(fields: list[str]) -> Gga:
    """GGA: time, lat, N/S, lon, E/W, quality, satellites, HDOP, altitude, M, …"""
    if len(fields) < 10:
        raise SentenceError(f"GGA has {len(fields)} fields, needs at least 10")
    try:
        return Gga(
            latitude=_coordinate(fields[1], fields[2], 2),
            longitude=_coordinate(fields[3], fields[4], 3),
            quality=int(fields[5] or 0),
            satellites=int(fields[6] or 0),
            altitude=_number(fields[8]),
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
        knots = _number(fields[6])
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
    minutes = (value - degrees) * 60
    return f"{degrees:0{degree_digits}d}{minutes:08.5f}", hemisphere
