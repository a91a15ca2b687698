"""NMEA 0183 sentences: checksums accepted and refused, GGA and RMC fields, hemispheres."""

from __future__ import annotations

import pytest

from agrifleet.hardware.nmea.sentences import (
    KNOTS_TO_MPS,
    SentenceError,
    build,
    checksum,
    format_coordinate,
    parse_gga,
    parse_rmc,
    split,
)

# The textbook examples (NMEA 0183 reference, gpsd's documentation).
GGA = b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n"
RMC = b"$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n"


def test_checksum_of_known_sentences() -> None:
    assert checksum("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,") == "47"
    assert build("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W") == RMC


def test_gga_fields() -> None:
    kind, fields = split(GGA)
    assert kind == "GGA"
    fix = parse_gga(fields)
    assert fix.latitude == pytest.approx(48 + 7.038 / 60)
    assert fix.longitude == pytest.approx(11 + 31.0 / 60)
    assert (fix.quality, fix.satellites, fix.altitude) == (1, 8, 545.4)


def test_rmc_fields_and_speed_in_metres_per_second() -> None:
    kind, fields = split(RMC)
    assert kind == "RMC"
    rmc = parse_rmc(fields)
    assert rmc.valid
    assert rmc.speed_mps == pytest.approx(22.4 * 0.514444, rel=1e-4)
    assert pytest.approx(0.514444, rel=1e-5) == KNOTS_TO_MPS


def test_southern_and_western_hemispheres_are_negative() -> None:
    line = build("GNGGA,010203.00,3352.12800,S,15112.55800,W,2,11,0.8,12.0,M,20.0,M,,")
    fix = parse_gga(split(line)[1])
    assert fix.latitude == pytest.approx(-(33 + 52.128 / 60))
    assert fix.longitude == pytest.approx(-(151 + 12.558 / 60))
    assert fix.quality == 2


@pytest.mark.parametrize(
    "line",
    [
        GGA.replace(b"*47", b"*48"),  # wrong checksum
        GGA.replace(b"545.4", b"545.5"),  # a changed digit
        GGA.replace(b"*47", b""),  # no checksum at all
        GGA.replace(b"0.9", b"0\x019"),  # a control character
        b"\xff" + GGA,  # garbage before the $
        GGA[:30] + b"\r\n",  # a truncated line
        b"$GPGGA," + b"1" * 90 + b"*00\r\n",  # longer than NMEA allows
    ],
)
def test_corrupt_sentences_are_refused(line: bytes) -> None:
    with pytest.raises(SentenceError):
        split(line)


def test_no_fix_sentences_parse_as_no_fix() -> None:
    gga = parse_gga(split(build("GPGGA,000000.00,,,,,0,00,99.99,,M,,M,,"))[1])
    rmc = parse_rmc(split(build("GPRMC,000000.00,V,,,,,,,010124,,,N"))[1])
    assert (gga.quality, gga.latitude, gga.altitude) == (0, None, None)
    assert not rmc.valid


def test_coordinates_round_trip() -> None:
    text, hemisphere = format_coordinate(-33.8688, 2, "NS")
    fields = ["000000", text, hemisphere, "15112.55800", "E", "1", "05", "1.0", "3.0", "M"]
    assert parse_gga(fields).latitude == pytest.approx(-33.8688, abs=1e-7)


def _gga(lat: str, ns: str, lon: str, ew: str, altitude: str = "545.4") -> list[str]:
    return ["123519", lat, ns, lon, ew, "1", "08", "0.9", altitude, "M", "46.9", "M", "", ""]


@pytest.mark.parametrize(
    ("lat", "ns", "lon", "ew", "why"),
    [
        ("9958.800", "N", "01131.000", "E", "beyond 90"),  # 99.98 degrees north
        ("9030.000", "S", "01131.000", "E", "beyond 90"),  # 90.5 degrees south
        ("4807.038", "N", "18542.000", "E", "beyond 180"),  # 185.7 degrees east
        ("4807.038", "N", "-1002.712", "W", "bad coordinate"),  # a sign inside the field
        ("4807.038", "N", "1002.712", "W", "bad coordinate"),  # four digits for dddmm
        ("48007.038", "N", "01131.000", "E", "bad coordinate"),  # five digits for ddmm
        ("4860.000", "N", "01131.000", "E", "minutes"),  # minutes 60
        ("4807", "N", "01131.000", "E", "bad coordinate"),  # no fraction
        ("48a7.038", "N", "01131.000", "E", "bad coordinate"),
        ("48nan", "N", "01131.000", "E", "bad coordinate"),
        ("4807.038", "N", "011inf", "E", "bad coordinate"),
        ("4807.038", "N", "01131.000", "N", "bad coordinate"),  # latitude hemisphere on lon
        ("4807.038", "E", "01131.000", "E", "bad coordinate"),
    ],
)
def test_impossible_coordinates_are_refused(
    lat: str, ns: str, lon: str, ew: str, why: str
) -> None:
    with pytest.raises(SentenceError, match=why):
        parse_gga(_gga(lat, ns, lon, ew))


def test_the_poles_and_the_antimeridian_are_positions() -> None:
    fix = parse_gga(_gga("9000.000", "S", "18000.000", "W"))
    assert (fix.latitude, fix.longitude) == (-90.0, -180.0)


@pytest.mark.parametrize(
    "altitude", ["inf", "-inf", "nan", "1e3", "99999.9", "-1500.0", "5x5", "--3", "0x10"]
)
def test_non_finite_or_impossible_altitude_is_refused(altitude: str) -> None:
    with pytest.raises(SentenceError, match="altitude"):
        parse_gga(_gga("4807.038", "N", "01131.000", "E", altitude))


@pytest.mark.parametrize(
    ("index", "value"),
    [(5, "nan"), (5, "-1"), (5, "12"), (6, "+8"), (6, "1_0"), (6, "100"), (6, " 8")],
)
def test_malformed_quality_or_satellites_are_refused(index: int, value: str) -> None:
    fields = _gga("4807.038", "N", "01131.000", "E")
    fields[index] = value
    with pytest.raises(SentenceError):
        parse_gga(fields)


@pytest.mark.parametrize("knots", ["inf", "nan", "-3.0", "5000.0"])
def test_impossible_speed_is_refused(knots: str) -> None:
    line = build(f"GPRMC,123519,A,4807.038,N,01131.000,E,{knots},084.4,230394,003.1,W")
    with pytest.raises(SentenceError, match="speed"):
        parse_rmc(split(line)[1])


def test_a_coordinate_just_below_a_whole_degree_formats_as_the_next_degree() -> None:
    assert format_coordinate(10.99999999, 2, "NS") == ("1100.00000", "N")
    assert format_coordinate(-179.999999999, 3, "EW") == ("18000.00000", "W")
