"""`agrifleet sim fleet` against a real Mosquitto and fleet: the virtual nodes' items (live
polls, detections with thumbnails, the backlogs of offline spells) are all acknowledged and stored
once, the summary says so, and the bare-broker mode needs no fleet at all."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import sqlalchemy

from agrifleet.demo.sim.runner import SimOptions, run_fleet
from agrifleet.fleet.settings import FleetSettings
from tests.fleet.conftest import running_fleet
from tests.services import Broker

ROOT = Path(__file__).resolve().parents[2]


def test_every_item_of_the_virtual_fleet_is_acknowledged_and_stored_once(
    broker: Broker, tmp_path: Path
) -> None:
    settings = FleetSettings(database_url=f"sqlite:///{tmp_path / 'fleet.db'}",
                             mqtt_url=broker.fleet_url, mqtt_client_id=f"f-{secrets.token_hex(3)}")
    with running_fleet(settings) as fleet:
        assert fleet.app.state.ingestor.wait_connected(10)
        options = SimOptions(mqtt_url=broker.fleet_url, devices=12, rate=60, duration=4,
                             processes=2, backlog=100, detection_every=5,
                             offline_fraction=0.25, offline_for_s=1.0, drain_s=20)
        for device_id in options.device_ids():
            fleet.register(device_id)
        summary = run_fleet(options)
        assert summary["errors"] == []
        sent, acked = summary["sent"], summary["acknowledged"]
        assert sent["items"] > 12 * 105 and sent["detections"] > 0
        assert acked["items"] == sent["items"] and acked["unacked"] == 0
        assert acked["rejected"] == 0
        assert summary["ack_latency_s"]["p50"] is not None
        with fleet.app.state.engine.connect() as conn:
            readings = conn.execute(sqlalchemy.text("SELECT count(*) FROM reading")).scalar()
            thumbs = conn.execute(sqlalchemy.text(
                "SELECT count(*) FROM detection WHERE thumbnail IS NOT NULL")).scalar()
        assert readings + sent["detections"] == sent["items"]
        assert thumbs == sent["detections"]
        for device_id in options.device_ids():
            (boot,) = fleet.get(f"/api/v1/devices/{device_id}/gaps")
            assert boot["missing"] == 0
            assert fleet.get(f"/api/v1/devices/{device_id}")["online"] is True


def test_the_bare_broker_mode_counts_pubacks_and_the_command_prints_json(
    broker: Broker, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGRIFLEET_")}
    env["PYTHONPATH"] = str(ROOT)
    out = tmp_path / "summary.json"
    done = subprocess.run(
        [sys.executable, "-m", "agrifleet", "sim", "fleet", "--devices", "5", "--rate", "0",
         "--duration", "2", "--processes", "1", "--ack-on-puback", "--mqtt-url",
         broker.fleet_url, "--offline-fraction", "0", "--json", str(out)],
        env=env, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary == json.loads(out.read_text())
    assert summary["acknowledged"]["items"] == summary["sent"]["items"] > 0
    assert summary["acked_items_per_s"] > 0


def test_bad_options_are_one_line_and_exit_2() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGRIFLEET_")}
    env["PYTHONPATH"] = str(ROOT)
    for args, message in [
        (["--devices", "0", "--mqtt-url", "mqtt://u:p@h"], "must be 1 or more"),
        (["--devices", "2", "--rate", "-1", "--mqtt-url", "mqtt://u:p@h"], "--rate must be"),
        (["--devices", "2"], "no broker"),
    ]:
        done = subprocess.run([sys.executable, "-m", "agrifleet", "sim", "fleet", *args],
                              env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 2 and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
