"""`agrifleet edge enroll` specifies: with a technician's code, against a real fleet (uvicorn)
and a real Mosquitto with dynamic security, a node writes a config that loads and secrets only
it can read, and an agent started on that config connects and its readings arrive; a bad code,
an unreachable fleet or an existing config fail clearly and change nothing."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agrifleet.edge.config import load_config
from agrifleet.fleet.app import create_app
from agrifleet.fleet.people.auth import create_token
from agrifleet.fleet.settings import FleetSettings
from agrifleet.hardware.simulators import ModbusSoilSimulator
from agrifleet.provisioning.dynsec import DynsecBroker
from agrifleet.signing import generate_keypair
from tests.fleet.web.api.server import serving
from tests.services import connack, free_port

AGRIFLEET = [sys.executable, "-m", "agrifleet"]


@dataclass
class Running:
    url: str
    env: dict[str, str]
    viewer: dict[str, str]
    broker: DynsecBroker
    public_key: Path


@pytest.fixture
def running(tmp_path: Path, dynsec_broker: DynsecBroker) -> Iterator[Running]:
    database = f"sqlite:///{tmp_path / 'fleet.db'}"
    _, public_key = generate_keypair(tmp_path / "keys")
    settings = FleetSettings(database_url=database, mqtt_url=dynsec_broker.fleet_url,
                             mqtt_client_id=f"fleet-{secrets.token_hex(4)}",
                             model_keys=(public_key,), data_dir=tmp_path / "fleet-data")
    app = create_app(settings)
    with serving(app) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGRIFLEET_")}
        env.update(AGRIFLEET_DATABASE_URL=database, AGRIFLEET_MQTT_URL=dynsec_broker.fleet_url,
                   AGRIFLEET_PUBLIC_URL=url, AGRIFLEET_DATA_DIR=str(tmp_path / "fleet-data"))
        viewer = {"Authorization": f"Bearer {create_token(app.state.engine, 'viewer')}"}
        yield Running(url, env, viewer, dynsec_broker, public_key)


def agrifleet(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AGRIFLEET, *args], env=env, capture_output=True, text=True,
                          timeout=60)


def codes_for(running: Running, tmp_path: Path, *devices: str) -> dict[str, str]:
    """`agrifleet fleet create-devices` on a CSV: device id → code (and QR images)."""
    csv = tmp_path / "devices.csv"
    csv.write_text("id,name,tags\n" + "".join(f"{d},Field {d},north;tomato\n" for d in devices))
    done = agrifleet("fleet", "create-devices", str(csv), "--qr-dir", str(tmp_path / "qr"),
                     env=running.env)
    assert done.returncode == 0, done.stderr
    codes = dict(line.split()[:2] for line in done.stdout.splitlines())
    assert set(codes) == set(devices)
    for device in devices:
        assert (tmp_path / "qr" / f"{device}.png").read_bytes().startswith(b"\x89PNG")
    return codes


def test_an_enrolled_node_runs_and_its_readings_arrive(running: Running, tmp_path: Path) -> None:
    code = codes_for(running, tmp_path, "field-01")["field-01"]
    config = tmp_path / "etc" / "agent.toml"
    done = agrifleet("edge", "enroll", "--fleet", running.url, "--code", code, "--config",
                     str(config), "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 0, done.stderr
    assert "plain http" in done.stderr  # a warning, not a refusal
    etc = config.parent
    for secret in (config, etc / "mqtt.password", etc / "device.secret"):
        assert secret.stat().st_mode & 0o777 == 0o600, secret
    loaded = load_config(config)
    assert loaded.device_id == "field-01"
    assert loaded.mqtt_password() == (etc / "mqtt.password").read_text().strip()
    assert loaded.updates is not None
    assert loaded.updates.trusted_keys[0].read_text() == running.public_key.read_text()
    assert not connack(running.broker.port, "field-01", loaded.mqtt_password()).is_failure

    with ModbusSoilSimulator() as soil:
        with config.open("a") as f:
            f.write(f'\n[clock]\nsynced = "always"\n\n[[sensors]]\ntype = "modbus-soil"\n'
                    f'name = "soil"\nport = "{soil.link}"\ninterval_s = 0.5\n')
        agent = subprocess.Popen([*AGRIFLEET, "edge", "run", "--config", str(config)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            readings: list[object] = []
            while time.monotonic() < deadline and not readings:
                readings = httpx.get(f"{running.url}/api/v1/devices/field-01/readings",
                                     headers=running.viewer).json()
                time.sleep(0.3)
            assert readings, "no reading of the enrolled node arrived"
        finally:
            agent.terminate()
            _, err = agent.communicate(timeout=30)
    assert str(loaded.mqtt_password()) not in err  # the agent's log holds no secret


def test_a_bad_code_fails_clearly_and_writes_nothing(running: Running, tmp_path: Path) -> None:
    codes_for(running, tmp_path, "field-02")
    config = tmp_path / "etc" / "agent.toml"
    done = agrifleet("edge", "enroll", "--fleet", running.url, "--code",
                     "AAAA-BBBB-CCCC-DDDD-EEEE", "--config", str(config))
    assert done.returncode == 2
    assert "the code was refused" in done.stderr and "Traceback" not in done.stderr
    assert not config.exists() and not (config.parent / "mqtt.password").exists()


def test_an_unreachable_fleet_or_wrong_scheme_fails_clearly(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    nowhere = agrifleet("edge", "enroll", "--fleet", f"http://127.0.0.1:{free_port()}",
                        "--code", "AAAA-BBBB-CCCC-DDDD-EEEE", "--config", str(config))
    assert nowhere.returncode == 2 and "cannot reach the fleet" in nowhere.stderr
    scheme = agrifleet("edge", "enroll", "--fleet", "ftp://fleet.example", "--code", "X",
                       "--config", str(config))
    assert scheme.returncode == 2 and "http(s)://" in scheme.stderr
    assert not config.exists()


def test_an_existing_config_is_kept_unless_forced_and_the_code_stays_valid(
        running: Running, tmp_path: Path) -> None:
    code = codes_for(running, tmp_path, "field-03")["field-03"]
    config = tmp_path / "agent.toml"
    config.write_text("# the node's old config\n")
    kept = agrifleet("edge", "enroll", "--fleet", running.url, "--code", code,
                     "--config", str(config))
    assert kept.returncode == 2 and "--force" in kept.stderr
    assert config.read_text() == "# the node's old config\n"
    forced = agrifleet("edge", "enroll", "--fleet", running.url, "--code", code,
                       "--config", str(config), "--data-dir", str(tmp_path / "data"), "--force")
    assert forced.returncode == 0, forced.stderr
    assert load_config(config).device_id == "field-03"
