"""Upgrading keeps a farm's data: a database of the previous release (e409505, schema at
migration 0004, filled through that release's ingestion; the SQL dumps in tests/fleet/fixtures)
is migrated to this version by `agrifleet fleet migrate`, on SQLite and on PostgreSQL, and then
the API gives every answer it gave before (new fields may be added) and ingestion goes on where
the devices left off."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

from agrifleet.fleet.settings import FleetSettings
from tests.fleet.conftest import running_fleet
from tests.fleet.device import T0, reading
from tests.fleet.fixtures.fleet_data import READINGS, snapshot
from tests.services import Broker, postgres_bindir

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: Relative to the moment the API answers: not the data's.
VOLATILE = {"online"}


def load_previous_release(url: str) -> None:
    """The previous release's dump, loaded as an operator would (sqlite3, psql)."""
    if url.startswith("sqlite"):
        sql = (FIXTURES / "previous_release.sqlite.sql").read_text()
        path = url.removeprefix("sqlite:///")
        done = subprocess.run(["sqlite3", path], input=sql, capture_output=True, text=True,
                              timeout=60)  # fmt: skip
    else:
        bindir = postgres_bindir()
        assert bindir is not None
        done = subprocess.run(
            [str(bindir / "psql"), "-q", "-v", "ON_ERROR_STOP=1", "-f",
             str(FIXTURES / "previous_release.postgresql.sql"),
             url.replace("postgresql+psycopg://", "postgresql://", 1)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 0 and "ERROR" not in done.stderr, done.stderr


def previous_answers(url: str) -> dict[str, Any]:
    kind = "sqlite" if url.startswith("sqlite") else "postgresql"
    raw = json.loads((FIXTURES / f"previous_release.{kind}.answers.json").read_text())
    return {k: base64.b64decode(v["base64"]) if isinstance(v, dict) and set(v) == {"base64"}
            else v for k, v in raw.items()}  # fmt: skip


def covers(new: Any, old: Any, where: str = "") -> None:
    """``new`` holds everything ``old`` did (dicts may have gained keys)."""
    if isinstance(old, dict):
        assert isinstance(new, dict), where
        for key, value in old.items():
            if key not in VOLATILE:
                assert key in new, f"{where}.{key} is gone"
                covers(new[key], value, f"{where}.{key}")
    elif isinstance(old, list):
        assert isinstance(new, list) and len(new) == len(old), f"{where}: {new!r} != {old!r}"
        for i, (n, o) in enumerate(zip(new, old, strict=True)):
            covers(n, o, f"{where}[{i}]")
    else:
        assert new == old, f"{where}: {new!r} != {old!r}"


def test_the_previous_release_s_database_upgrades_and_answers_as_before(
    database_url: str, broker: Broker, tmp_path: Path
) -> None:
    load_previous_release(database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGRIFLEET_")}
    env.update(PYTHONPATH=str(ROOT), AGRIFLEET_DATABASE_URL=database_url)
    done = subprocess.run([sys.executable, "-m", "agrifleet", "fleet", "migrate"], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout

    settings = FleetSettings(database_url=database_url, mqtt_url=broker.fleet_url,
                             mqtt_client_id=f"fleet-{secrets.token_hex(4)}",
                             data_dir=tmp_path / "data", auto_migrate=False)  # fmt: skip
    with running_fleet(settings) as fleet:
        fleet.broker = broker
        assert fleet.app.state.ingestor.wait_connected(10)
        old = previous_answers(database_url)
        assert len(old["/api/v1/devices"]) == 2
        new = snapshot(fleet)
        assert set(new) == set(old)
        for path in old:
            covers(new[path], old[path], path)
        # The nodes go on after the upgrade: the same boot, the next seq, no gap.
        device = fleet.device("field-a", register=False)
        seq = READINGS + 3
        ack = device.send("boot-1", [reading(seq, ts=T0)])
        assert ack.ranges == [(seq, seq)] and not ack.rejected
        (boot,) = fleet.get("/api/v1/devices/field-a/gaps")
        assert (boot["received"], boot["missing"]) == (seq + 1, 0)
        device.close()
