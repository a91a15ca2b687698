"""The GPS driver on a pseudo-terminal: position from GGA/RMC, no fix and every fault refused."""

from __future__ import annotations

import pytest

from hardware.nmea import NmeaGps
from hardware.sensor import SensorError
from hardware.simulators import NmeaGpsSimulator


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
