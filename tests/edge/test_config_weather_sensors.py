"""Weather sensors in the agent's config: an XY-MD02 and a rain gauge load, open real drivers
against simulators, a typo in a rain gauge section is refused with its location, and the
test-only fast clock stamps items in simulated time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agrifleet.edge.agent import Agent
from agrifleet.edge.config import ConfigError, load_config
from agrifleet.edge.sensor_types.modbus import ModbusSoilSensor
from agrifleet.edge.sensor_types.rain_gauge import RainGaugeSensor
from agrifleet.edge.sensors import opener
from agrifleet.hardware.rain import RainGauge
from agrifleet.hardware.simulators import ModbusAirSimulator, RainGaugeSimulator

BASE = """\
device_id = "field-07"
[mqtt]
url = "mqtt://127.0.0.1:1883"
"""


def test_air_probe_and_rain_gauge_load_and_open_their_drivers(tmp_path: Path) -> None:
    with (
        ModbusAirSimulator(link_dir=str(tmp_path), seed=1) as air,
        RainGaugeSimulator(link_dir=str(tmp_path), seed=2, shower_chance=0.0) as rain,
    ):
        path = tmp_path / "agent.toml"
        path.write_text(
            BASE
            + f'[[sensors]]\ntype = "modbus"\nport = "{air.link}"\nprofile = "xy-md02"\n'
            + f'[[sensors]]\ntype = "rain-gauge"\nport = "{rain.link}"\ninterval_s = 300\n'
        )
        config = load_config(path)
        probe_config, gauge_config = config.sensors
        assert isinstance(probe_config, ModbusSoilSensor)
        assert isinstance(gauge_config, RainGaugeSensor)
        assert (probe_config.name, gauge_config.name) == ("modbus", "rain-gauge")
        probe, gauge = opener(probe_config)(), opener(gauge_config)()
        try:
            assert {m.quantity for m in probe.read()} == {"air_temperature", "relative_humidity"}
            assert isinstance(gauge, RainGauge)
            gauge.read()
            rain.tip(4)
            assert [(m.quantity, m.value, m.unit) for m in gauge.read()] == [
                ("rainfall", 0.8, "mm"),
            ]
        finally:
            probe.close()
            gauge.close()


def test_a_typo_in_a_rain_gauge_section_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(BASE + '[[sensors]]\ntype = "rain-gauge"\nport = "/dev/x"\nbucket = 0.2\n')
    with pytest.raises(ConfigError, match=r"sensors\[0\]: unknown key 'bucket'"):
        load_config(path)
    path.write_text(BASE + '[[sensors]]\ntype = "rain-gauge"\nport = "/dev/x"\nprofile = "nah"\n')
    with pytest.raises(ConfigError, match="unknown profile 'nah'"):
        load_config(path)


def test_a_fast_test_clock_stamps_the_agents_items_in_simulated_time(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(BASE + "[clock.simulate]\nstart = 2026-07-01T00:00:00Z\n"
                    f"real_start = {datetime.now(UTC).isoformat()}\nscale = 3600\n")
    stamp = Agent(load_config(path)).clock.now()
    assert datetime(2026, 7, 1, tzinfo=UTC).timestamp() <= stamp.ts
    assert stamp.ts < datetime(2026, 7, 2, tzinfo=UTC).timestamp()  # a real day's not passed
    path.write_text(BASE + "[clock.simulate]\nstart = 2026-07-01T00:00:00\n"
                    "real_start = 2026-07-01T00:00:00Z\nscale = 3600\nspeed = 2\n")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert "clock.simulate.start: Input should have timezone info" in str(refused.value)
    assert "clock.simulate: unknown key 'speed'" in str(refused.value)
