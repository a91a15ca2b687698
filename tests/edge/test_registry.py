"""A new sensor or camera type is one module dropped into its package: the agent's config
accepts its ``type`` and its keys (and refuses typos in them), the poller opens its driver, the
camera worker gets its source; nothing else is edited. Each check runs in a fresh interpreter,
whose type packages also search a temporary folder, so the session's registries stay as shipped."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

THERMO = '''
"""A made-up thermometer: reads a number from a text file."""
from pathlib import Path
from typing import Literal

from pydantic import Field

from agrifleet.edge.sensor_types.base import SensorType
from agrifleet.hardware.sensor import Measurement, Sensor


class _File:
    def __init__(self, path: str, offset: float) -> None:
        self.path, self.offset = path, offset

    def read(self) -> list[Measurement]:
        value = float(Path(self.path).read_text()) + self.offset
        return [Measurement("air_temperature", value, "degC")]

    def close(self) -> None:
        pass


class ThermoSensor(SensorType):
    type: Literal["thermo"]
    offset: float = Field(default=0.0, title="Added to each reading")

    def open(self) -> Sensor:
        return _File(self.port, self.offset)
'''

STILL = '''
"""A made-up camera: the same photo file at every poll."""
from pathlib import Path
from typing import Literal

from agrifleet.edge.inference.camera_types.base import CameraType


class _Still:
    def __init__(self, path: Path) -> None:
        self.path = path

    def capture(self) -> bytes:
        return self.path.read_bytes()


class StillCamera(CameraType):
    type: Literal["still"]
    photo: Path
    every_s: float = 5.0

    def open_source(self) -> _Still:
        return _Still(self.photo)

    def poll_every_s(self) -> float:
        return self.every_s
'''

RUN = '''
import importlib.util, json, sys

for package, folder in (("agrifleet.edge.sensor_types", sys.argv[1]),
                        ("agrifleet.edge.inference.camera_types", sys.argv[2])):
    spec = importlib.util.find_spec(package)
    spec.submodule_search_locations.append(folder)  # the package's __path__ gets the folder
    module = importlib.util.module_from_spec(spec)
    sys.modules[package] = module
    spec.loader.exec_module(module)

from agrifleet.edge.config import ConfigError, parse_config
from agrifleet.edge.inference.sources import PhotoFolder
from agrifleet.edge.inference.worker import CameraWorker
from agrifleet.edge.sensors import polled_sensors

base = {"device_id": "node-1", "mqtt": {"url": "mqtt://127.0.0.1"}}
config = parse_config({**base,
    "sensors": [{"type": "thermo", "port": sys.argv[3], "offset": 0.5}],
    "cameras": [{"type": "still", "name": "cam", "photo": sys.argv[3], "every_s": 7}]})
polled = polled_sensors(config.sensors)[0]
driver = polled.open()
source = config.cameras[0].open_source()
out = {"name": polled.name, "reading": [m.value for m in driver.read()],
       "photo": source.capture().decode(), "folder": isinstance(source, PhotoFolder),
       "interval": CameraWorker(config.cameras[0], lambda *a: None).interval_s}
try:
    parse_config({**base, "sensors": [{"type": "thermo", "port": "/x", "ofset": 1}]})
except ConfigError as exc:
    out["typo"] = str(exc)
print(json.dumps(out))
'''


def test_one_module_is_all_a_new_sensor_or_camera_type_needs(tmp_path: Path) -> None:
    sensors, cameras = tmp_path / "sensors", tmp_path / "cameras"
    sensors.mkdir()
    cameras.mkdir()
    (sensors / "thermo.py").write_text(THERMO)
    (cameras / "still.py").write_text(STILL)
    reading = tmp_path / "reading.txt"
    reading.write_text("21.0")
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(RUN), str(sensors), str(cameras), str(reading)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["name"] == "thermo"  # the default name is the type, as for shipped types
    assert out["reading"] == [21.5]
    assert (out["photo"], out["folder"], out["interval"]) == ("21.0", False, 7.0)
    assert out["typo"] == "config: sensors[0]: unknown key 'ofset'"


def test_a_type_name_claimed_by_two_modules_is_refused_at_start(tmp_path: Path) -> None:
    (tmp_path / "gps_clone.py").write_text(
        "from typing import Literal\n"
        "from agrifleet.edge.sensor_types.base import SensorType\n"
        "class GpsClone(SensorType):\n"
        "    type: Literal['nmea-gps']\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(RUN), str(tmp_path), str(tmp_path / "none"), "-"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode != 0
    assert "type 'nmea-gps' is claimed by NmeaGpsSensor and GpsClone" in done.stderr
