"""NMEA 0183 sentences: checksums accepted and refused, GGA and RMC fields, hemispheres."""

from __future__ import annotations

import pytest

from hardware.nmea.sentences import (
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
