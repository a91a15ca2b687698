"""`agrifleet sim sensors` prints one KIND PATH LINK line per simulator and serves until Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from hardware.modbus import ModbusSoilProbe
from hardware.nmea import NmeaGps
from hardware.sdi12 import Sdi12Probe
from hardware.sensor import Sensor


def test_sim_sensors_serves_real_protocols_until_interrupted(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "agrifleet.cli", "sim", "sensors", "--soil", "2"]
    proc = subprocess.Popen(
        [*command, "--link-dir", str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().split() for _ in range(4)]
        assert [line[0] for line in lines] == ["modbus-soil", "modbus-soil", "sdi12", "nmea-gps"]
        assert all(line[1].startswith("/dev/pts/") for line in lines)
        assert all(Path(line[2]).parent == tmp_path for line in lines)
        sensors: list[Sensor] = [
            ModbusSoilProbe(lines[0][2], timeout=1.0),
            ModbusSoilProbe(lines[1][1], timeout=1.0),
            Sdi12Probe(lines[2][2], profile="acclima-tdr", timeout=1.0),
            NmeaGps(lines[3][1], timeout=3.0),
        ]
        try:
            counts = [len(sensor.read()) for sensor in sensors]
        finally:
            for sensor in sensors:
                sensor.close()
        assert counts == [7, 7, 5, 6]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    assert proc.returncode == 130
    assert list(tmp_path.iterdir()) == []


def test_help_lists_the_options() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "agrifleet.cli", "sim", "sensors", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in ("--soil", "--sdi12", "--gps", "--fault", "bad-crc", "unplug"):
        assert option in out
