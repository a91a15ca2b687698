"""The agent end to end with the hardware simulators on pseudo-terminals and a real Mosquitto:
all three probes reach the fleet, and one silent probe does not stop the others."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from agrifleet.contract import Event, Reading
from agrifleet.edge.agent import Agent
from agrifleet.hardware.simulators import ModbusSoilSimulator, NmeaGpsSimulator, Sdi12Simulator
from tests.edge.conftest import running
from tests.edge.fleet_acker import FleetAcker, wait_until

ROOT = Path(__file__).resolve().parents[2]


def readings_of(fleet: FleetAcker, sensor: str) -> list[Reading]:
    return [i for i in fleet.items() if isinstance(i, Reading) and i.sensor == sensor]


def events(fleet: FleetAcker, code: str) -> list[Event]:
    return [i for i in fleet.items() if isinstance(i, Event) and i.code == code]


def test_all_three_probes_reach_the_fleet_and_a_silent_one_does_not_stop_the_others(
    broker, fleet, make_config
):
    with (
        ModbusSoilSimulator() as soil,
        Sdi12Simulator(measure_seconds=0) as sdi12,
        NmeaGpsSimulator(lat=10.03, lon=105.77, interval=0.2) as gps,
    ):
        config = make_config(
            broker.add_device("field-07"),
            sensors=[
                {"type": "modbus-soil", "name": "soil", "port": soil.path, "interval_s": 0.3},
                {"type": "sdi12", "name": "probe", "port": sdi12.path, "interval_s": 0.3},
                {"type": "nmea-gps", "name": "gps", "port": gps.path, "interval_s": 0.3},
            ],
            polling={"fail_threshold": 2, "retry_min_s": 0.1, "retry_max_s": 0.5},
        )
        agent = Agent(config, boot_id="boot-1")
        with running(agent):
            wait_until(lambda: all(readings_of(fleet, n) for n in ("soil", "probe", "gps")),
                       what="readings from every probe")
            quantities = {r.quantity for r in readings_of(fleet, "soil")}
            assert {"soil_moisture", "soil_temperature"} <= quantities
            lat = [r.value for r in readings_of(fleet, "gps") if r.quantity == "latitude"]
            assert lat and abs(lat[0] - 10.03) < 1e-3

            soil.faults.silence = True
            wait_until(lambda: events(fleet, "sensor_down"), timeout=20, what="sensor_down")
            (down,) = events(fleet, "sensor_down")
            assert (down.sensor, down.severity) == ("soil", "warning")
            probe_then, gps_then = len(readings_of(fleet, "probe")), len(readings_of(fleet, "gps"))
            wait_until(lambda: len(readings_of(fleet, "probe")) > probe_then + 2
                       and len(readings_of(fleet, "gps")) > gps_then + 2,
                       what="the other probes keep being served")
            assert len(events(fleet, "sensor_down")) == 1

            soil.faults.silence = False
            wait_until(lambda: events(fleet, "sensor_recovered"), timeout=20, what="recovery")
            assert events(fleet, "sensor_recovered")[0].severity == "info"
            assert agent.poller is not None and agent.poller.errors()["soil"] >= 2
    assert fleet.invalid == []


def test_an_unplugged_adapter_is_found_again_through_its_by_id_link(broker, fleet, make_config):
    with ModbusSoilSimulator() as soil:
        config = make_config(
            broker.add_device("field-07"),
            sensors=[{"type": "modbus-soil", "name": "soil", "port": soil.link,
                      "interval_s": 0.2}],
            polling={"fail_threshold": 1, "retry_min_s": 0.1, "retry_max_s": 0.3},
        )
        with running(Agent(config, boot_id="boot-1")):
            wait_until(lambda: readings_of(fleet, "soil"), what="readings")
            old_path = soil.path
            soil.unplug()
            wait_until(lambda: events(fleet, "sensor_down"), timeout=20, what="sensor_down")
            soil.replug()
            assert soil.path != old_path
            wait_until(lambda: events(fleet, "sensor_recovered"), timeout=20, what="recovery")
            before = len(readings_of(fleet, "soil"))
            wait_until(lambda: len(readings_of(fleet, "soil")) > before, what="new readings")


def test_agent_killed_mid_stream_loses_nothing_and_continues_its_seqs(broker, fleet, tmp_path):
    url = broker.add_device("field-07")
    with ModbusSoilSimulator() as soil:
        config = tmp_path / "agent.toml"
        config.write_text(
            f'device_id = "field-07"\ndata_dir = "{tmp_path / "data"}"\n'
            f'[mqtt]\nurl = "{url}"\nreconnect_min_s = 0.1\n[clock]\nsynced = "always"\n'
            f'[[sensors]]\ntype = "modbus-soil"\nname = "soil"\nport = "{soil.path}"\n'
            "interval_s = 0.05\n"
        )
        command = [sys.executable, "-m", "agrifleet", "edge", "run", "--config", str(config)]
        first = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: len(readings_of(fleet, "soil")) > 50, what="first run's readings")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        boot = fleet.batches[0].boot_id
        before = max(fleet.stored[boot])
        second = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: max(fleet.stored[boot]) > before + 50, what="second run")
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(15) == 0
    stored = sorted(fleet.stored[boot])
    assert stored == list(range(len(stored))), "one seq space across the restart, no gap"
    assert len(fleet.deliveries) - len(stored) <= 4 * 500, "resent at most the in-flight window"
