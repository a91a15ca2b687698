"""The fleet commands specify: `migrate` works on a fresh database and `create-token` names the
database it writes to and starts a new one only with `--create`; bad settings exit 2 with a
one-line reason, and `serve` runs the API and ingestion together."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fleet.device import Device, batch, reading, wait_until
from tests.services import Broker, free_port

pytestmark = pytest.mark.slow  # the fleet's commands started as processes

AGRIFLEET = [sys.executable, "-m", "agrifleet"]


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGRIFLEET_")}
    env.update({f"AGRIFLEET_{k.upper()}": v for k, v in settings.items()})
    return env


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AGRIFLEET, "fleet", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_migrate_and_create_token(tmp_path: Path) -> None:
    env = _env(database_url=f"sqlite:///{tmp_path / 'fleet.db'}")
    migrated = _run("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "up to date" in migrated.stdout
    token = _run("create-token", "--role", "viewer", env=env)
    assert token.returncode == 0, token.stderr
    assert token.stdout.strip().startswith("agf_")
    assert token.stdout.strip() not in (tmp_path / "fleet.db").read_bytes().decode("latin-1")


def test_create_token_names_the_database_it_wrote_to(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    env = _env(database_url=url)
    assert _run("migrate", env=env).returncode == 0
    token = _run("create-token", "--role", "technician", env=env)
    assert token.returncode == 0, token.stderr
    assert token.stdout.strip().startswith("agf_")  # alone on stdout, for TOKEN=$(...)
    assert token.stderr.strip() == (
        f"agrifleet fleet create-token: a technician token stored in {url}")


@pytest.mark.parametrize("existing", ["no file", "an empty file"])
def test_create_token_refuses_to_start_a_new_database_unless_asked(
    tmp_path: Path, existing: str
) -> None:
    data = tmp_path / "data"
    if existing == "an empty file":
        data.mkdir()
        (data / "fleet.db").write_bytes(b"")
    env = _env(data_dir=str(data))
    refused = _run("create-token", "--role", "technician", env=env)
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr.splitlines() == [
        f"agrifleet fleet create-token: there is no fleet database at sqlite:///{data}/fleet.db "
        "yet: run it with the fleet's settings (AGRIFLEET_DATABASE_URL or AGRIFLEET_DATA_DIR; "
        "`agrifleet demo` prints its own tokens), or pass --create to start a new, empty one"]
    assert (data / "fleet.db").exists() == (existing == "an empty file")  # nothing was made
    created = _run("create-token", "--role", "technician", "--create", env=env)
    assert created.returncode == 0, created.stderr
    assert f"stored in sqlite:///{data}/fleet.db" in created.stderr
    assert _run("create-token", "--role", "viewer", env=env).returncode == 0  # it exists now


def test_bad_settings_exit_2_with_a_reason(tmp_path: Path) -> None:
    bad = _run("migrate", env=_env(database_url="oracle://scott:tiger@db"))
    assert bad.returncode == 2
    assert "AGRIFLEET_DATABASE_URL" in bad.stderr
    assert "tiger" not in bad.stderr
    assert "Traceback" not in bad.stderr
    role = _run("create-token", "--role", "root", env=_env())
    assert role.returncode == 2 and "invalid choice" in role.stderr


@pytest.fixture
def served(tmp_path: Path, broker: Broker) -> Iterator[tuple[str, str]]:
    """`agrifleet fleet serve` in a subprocess; yields (base URL, admin token)."""
    env = _env(database_url=f"sqlite:///{tmp_path / 'fleet.db'}", mqtt_url=broker.fleet_url,
               mqtt_client_id="served-fleet")  # fmt: skip
    token = _run("create-token", "--role", "admin", "--create", env=env).stdout.strip()
    port = free_port()
    process = subprocess.Popen(
        [*AGRIFLEET, "fleet", "serve", "--port", str(port)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _up(base), timeout=30, what="the API to answer")
        yield base, token
    finally:
        process.terminate()
        _, raw = process.communicate(timeout=30)
        log = raw.decode()
        # uvicorn shuts down cleanly, then re-raises SIGTERM as its exit status.
        assert "Application shutdown complete" in log, log[-2000:]
        assert "Traceback" not in log, log[-2000:]
        assert broker.config.users["fleet"] not in log  # never log secrets


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        time.sleep(0.1)
        return False


def test_serve_runs_api_and_ingestion(served: tuple[str, str], broker: Broker) -> None:
    base, token = served
    auth = {"Authorization": f"Bearer {token}"}
    created = httpx.post(f"{base}/api/v1/devices", json={"id": "field-01"}, headers=auth)
    assert created.status_code == 201
    device = Device(broker.add_device("field-01"), "field-01")
    try:
        # The fleet subscribes in the background; the device resends until acked.
        def delivered() -> bool:
            device.publish(batch("field-01", "b", [reading(0)]))
            try:
                return device.next_ack(timeout=1).ranges == [(0, 0)]
            except queue.Empty:
                return False

        wait_until(delivered, timeout=30, what="an ack")
    finally:
        device.close()
    rows = httpx.get(f"{base}/api/v1/devices/field-01/readings", headers=auth).json()
    assert [r["seq"] for r in rows] == [0]


DATABASE_COMMANDS = [["migrate"], ["create-token", "--role", "admin", "--create"],
                     ["serve", "--port", "0"]]


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=lambda c: c[0])
def test_an_unreachable_postgresql_is_one_line_with_the_password_masked(
    command: list[str],
) -> None:
    closed = free_port()  # bound and released: nothing listens there
    url = f"postgresql://agrifleet:hunter2-secret@127.0.0.1:{closed}/fleet"
    if command[0] == "serve":
        command = ["serve", "--port", str(free_port())]
    done = _run(*command, env=_env(database_url=url))
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert f"agrifleet fleet {command[0]}: cannot use the database" in lines[0]
    assert "agrifleet:***@127.0.0.1" in lines[0] and "Connection refused" in lines[0]
    assert "hunter2" not in done.stderr


@pytest.mark.parametrize("where", ["a file as folder", "a folder as file"])
@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=lambda c: c[0])
def test_an_unopenable_sqlite_file_is_one_line(
    tmp_path: Path, where: str, command: list[str]
) -> None:
    (tmp_path / "plain-file").write_text("")
    path = tmp_path / "plain-file" / "fleet.db" if where == "a file as folder" else tmp_path
    url = f"sqlite:///{path}"
    if command[0] == "serve":
        command = ["serve", "--port", str(free_port())]
    done = _run(*command, env=_env(database_url=url))
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert f"cannot use the database {url}" in lines[0]


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=lambda c: c[0])
def test_a_schema_from_a_newer_version_is_one_line(tmp_path: Path, command: list[str]) -> None:
    import sqlite3

    env = _env(database_url=f"sqlite:///{tmp_path / 'fleet.db'}")
    assert _run("migrate", env=env).returncode == 0
    with sqlite3.connect(tmp_path / "fleet.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '0099'")
    if command[0] == "serve":
        command = ["serve", "--port", str(free_port())]
    done = _run(*command, env=env)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "has a schema this version cannot migrate" in lines[0] and "'0099'" in lines[0]
