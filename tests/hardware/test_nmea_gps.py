"""The GPS driver on a pseudo-terminal: position from GGA/RMC, no fix and every fault refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from agrifleet.hardware.nmea import NmeaGps
from agrifleet.hardware.nmea.sentences import build
from agrifleet.hardware.sensor import SensorError
from agrifleet.hardware.simulators import NmeaGpsSimulator


class FaultyReceiver(NmeaGpsSimulator):
    """A receiver whose sentences have good checksums but the given impossible GGA fields."""

    def __init__(self, gga_fields: str, link_dir: Path) -> None:
        super().__init__(interval=0.05, link_dir=str(link_dir))
        self.gga_fields = gga_fields
        self.good = False  # True: it sends its real GGA again

    def sentences(self, when: datetime, t: float) -> list[bytes]:
        real = super().sentences(when, t)
        if self.good:
            return real
        return [build(f"GPGGA,{when:%H%M%S}.00,{self.gga_fields}"), real[1]]


@pytest.fixture
def faulty(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[FaultyReceiver]:
    with FaultyReceiver(request.param, tmp_path) as sim:
        yield sim


def _read(sim: NmeaGpsSimulator, path: str | None = None) -> dict[str, tuple[float, str]]:
    gps = NmeaGps(path or sim.path, timeout=0.5)
    try:
        return {m.quantity: (m.value, m.unit) for m in gps.read()}
    finally:
        gps.close()


def test_position_and_fix_quantities(gps_sim: NmeaGpsSimulator) -> None:
    gps_sim.speed_mps = 3.0
    got = _read(gps_sim)
    assert got["latitude"][0] == pytest.approx(-33.8688, abs=1e-4)
    assert got["longitude"][0] == pytest.approx(151.2093, abs=1e-4)
    assert got["altitude"] == (pytest.approx(545.4, abs=2), "m")
    assert got["satellites"][1] == "count" and 7 <= got["satellites"][0] <= 11
    assert got["gps_fix_quality"] == (1.0, "")
    assert got["speed"] == (pytest.approx(3.0, abs=1e-3), "m/s")
    assert {u for _, u in got.values()} == {"deg", "m", "count", "", "m/s"}


def test_no_fix_is_an_error_not_zeros(gps_sim: NmeaGpsSimulator) -> None:
    gps_sim.has_fix = False
    with pytest.raises(SensorError, match="no fix"):
        _read(gps_sim)


@pytest.mark.parametrize("fault", ["noise", "bad_crc", "silence"])
def test_every_fault_is_an_error_then_readings_resume(
    gps_sim: NmeaGpsSimulator, fault: str
) -> None:
    gps = NmeaGps(gps_sim.link, timeout=0.4)
    try:
        setattr(gps_sim.faults, fault, True)
        for _ in range(2):
            with pytest.raises(SensorError):
                gps.read()
        setattr(gps_sim.faults, fault, False)
        assert len(gps.read()) == 6
    finally:
        gps.close()


def test_unplug_and_replug_through_the_stable_link(gps_sim: NmeaGpsSimulator) -> None:
    gps = NmeaGps(gps_sim.link, timeout=0.4)
    try:
        assert gps.read()
        old = gps_sim.path
        gps_sim.unplug()
        with pytest.raises(SensorError):
            gps.read()
        gps_sim.replug()
        assert gps_sim.path != old
        assert len(gps.read()) == 6
    finally:
        gps.close()


IMPOSSIBLE = {
    "latitude 99.98": "9958.800,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",
    "longitude 185.7": "4807.038,N,18542.000,E,1,08,0.9,545.4,M,46.9,M,,",
    "signed coordinate field": "4807.038,N,-1002.712,W,1,08,0.9,545.4,M,46.9,M,,",
    "altitude inf": "4807.038,N,01131.000,E,1,08,0.9,inf,M,46.9,M,,",
    "satellites nan": "4807.038,N,01131.000,E,1,nan,0.9,545.4,M,46.9,M,,",
}


@pytest.mark.parametrize("faulty", list(IMPOSSIBLE.values()), ids=list(IMPOSSIBLE), indirect=True)
def test_a_faulty_receiver_is_refused_like_a_bad_checksum(faulty: FaultyReceiver) -> None:
    gps = NmeaGps(faulty.link, timeout=0.4)
    try:
        with pytest.raises(SensorError, match=r"no valid GGA .*\(\d+ refused sentences\)") as err:
            gps.read()
        refused = int(re.findall(r"(\d+) refused", str(err.value))[0])
        assert refused >= 1  # every impossible GGA that came is counted
        faulty.good = True
        got = {m.quantity: m.value for m in gps.read()}
        assert got["latitude"] == pytest.approx(48.1173, abs=1e-3)
    finally:
        gps.close()


def test_bad_checksums_and_impossible_values_are_counted_together(tmp_path: Path) -> None:
    with FaultyReceiver(IMPOSSIBLE["latitude 99.98"], tmp_path) as sim:
        sim.faults.bad_crc = True  # now every sentence also has a wrong checksum
        gps = NmeaGps(sim.link, timeout=0.4)
        try:
            with pytest.raises(SensorError, match="refused sentences") as err:
                gps.read()
            # The RMC (bad checksum) is counted beside the GGA (bad checksum, impossible too).
            assert int(re.findall(r"(\d+) refused", str(err.value))[0]) >= 2
        finally:
            gps.close()
