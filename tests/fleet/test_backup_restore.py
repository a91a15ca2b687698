"""Backups as docs/deploy.md makes them — docs/deploy/backup.sh: pg_dump on PostgreSQL, sqlite3
.backup on SQLite, a tar of the model registry's folder — taken while the fleet runs and restored
as the guide says (pg_restore into a fresh database, the file copied back, the tar unpacked) give
the same API answers, with the same tokens."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from agrifleet.fleet.settings import FleetSettings
from tests.fleet.conftest import running_fleet
from tests.fleet.fixtures.fleet_data import fill, snapshot
from tests.fleet.modelops.registry.packages import archive, keypair, package_dir
from tests.services import Broker, postgres_bindir

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "deploy" / "backup.sh"


def run(*args: str | Path) -> None:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{args[0]} failed: {done.stderr}"


def libpq(url: str) -> str:
    """The SQLAlchemy URL as pg_dump and pg_restore take it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def backup(url: str, data_dir: Path, dest: Path) -> Path:
    """Run docs/deploy/backup.sh with an environment file naming the database and data folder;
    the folder it made."""
    env_file = dest / "fleet.env"
    env_file.write_text(f"AGRIFLEET_DATABASE_URL={libpq(url)}\nAGRIFLEET_DATA_DIR={data_dir}\n")
    done = subprocess.run(["sh", str(SCRIPT), str(dest)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "AGRIFLEET_ENV_FILE": str(env_file)})
    assert done.returncode == 0, done.stderr
    (made,) = [p for p in dest.iterdir() if p.is_dir()]
    assert done.stdout.strip() == f"backup in {made}"
    return made


def restore_database(backup: Path, url: str) -> None:
    if url.startswith("sqlite"):
        shutil.copyfile(backup, url.removeprefix("sqlite:///"))
    else:
        bindir = postgres_bindir()
        assert bindir is not None
        run(bindir / "pg_restore", "--no-owner", "--exit-on-error", "--single-transaction",
            f"--dbname={libpq(url)}", backup)  # fmt: skip


def fresh_database(url: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'restored' / 'fleet.db'}"
    return str(request.getfixturevalue("postgres").create_database())


def test_a_backup_restored_into_a_fresh_database_answers_the_same(
    database_url: str, broker: Broker, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    key, pub = keypair(tmp_path / "keys")
    data_dir = tmp_path / "data"
    settings = FleetSettings(database_url=database_url, mqtt_url=broker.fleet_url,
                             mqtt_client_id=f"fleet-{secrets.token_hex(4)}", data_dir=data_dir,
                             model_keys=(pub,))  # fmt: skip
    backups = tmp_path / "backups"
    backups.mkdir()
    with running_fleet(settings) as fleet:
        fleet.broker = broker
        assert fleet.app.state.ingestor.wait_connected(10)
        fill(fleet)
        published = fleet.client.post(
            "/api/v1/models", content=archive(package_dir(tmp_path / "pkg", "1.2.0", key)),
            headers={**fleet.admin, "Content-Type": "application/gzip"},
        )
        assert published.status_code == 201, published.text
        before = snapshot(fleet)
        # Taken while the fleet runs, as a nightly job would.
        made = backup(database_url, data_dir, backups)
        viewer = fleet.viewer
        for device in fleet.devices:
            device.close()
    assert len(before["/api/v1/devices"]) == 2 and len(before["/api/v1/models"]) == 1

    restored_url = fresh_database(database_url, request, tmp_path)
    Path(tmp_path / "restored").mkdir(exist_ok=True)
    dump = made / ("fleet.db" if database_url.startswith("sqlite") else "fleet.dump")
    restore_database(dump, restored_url)
    new_data = tmp_path / "restored-data"
    new_data.mkdir()
    run("tar", "-C", new_data, "-xzf", made / "models.tar.gz")
    restored = FleetSettings(database_url=restored_url, data_dir=new_data, model_keys=(pub,))
    with running_fleet(restored) as again:
        again.viewer = viewer  # the old tokens work: their hashes are in the backup
        after = snapshot(again)
        package = again.client.get("/api/v1/models/leaf-disease/1.2.0", headers=viewer)
        assert package.status_code == 200, package.text
    assert after == before
    assert (new_data / "models" / "leaf-disease" / "1.2.0" / "package.tar.gz").read_bytes() == (
        data_dir / "models" / "leaf-disease" / "1.2.0" / "package.tar.gz").read_bytes()
