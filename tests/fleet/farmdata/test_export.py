"""A farm's export: its admin gets one ZIP with every row and photo of the farm (each file's
SHA-256 and row count in the manifest, CSV that Excel reads in Vietnamese and Chinese, Parquet
beside it, a README of every column) and nothing of another farm; others are refused."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from agrifleet.fleet.farmdata.contents import TABLES
from agrifleet.fleet.people.tables import AuditEntry
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.farmdata.data import VI_NAME, ZH_NAME, FarmData
from tests.fleet.people.auth.people import bearer, personal_token

pytestmark = pytest.mark.usefixtures("two_farms")


def _headers(fleet: FleetUnderTest, email: str) -> dict[str, str]:
    from agrifleet.fleet.people.tables import User

    with Session(fleet.app.state.engine) as session:
        user = session.exec(select(User).where(col(User.email) == email)).one()
        assert user.id is not None
    return bearer(personal_token(fleet.app.state.engine, user.id)[1])


def _export(fleet: FleetUnderTest, farm: FarmData, **params: str) -> zipfile.ZipFile:
    response = fleet.client.get(f"/api/v1/farms/{farm.farm_id}/export", params=params,
                                headers=_headers(fleet, farm.admin_email))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert f"farm-{farm.farm_id}-" in response.headers["content-disposition"]
    return zipfile.ZipFile(io.BytesIO(response.content))


def _table(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    raw = archive.read(f"{name}.csv")
    assert raw.startswith(b"\xef\xbb\xbf"), "a CSV starts with the UTF-8 byte order mark"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def test_the_export_holds_every_row_and_photo_of_the_farm_and_nothing_else(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData]) -> None:
    farm, other = two_farms
    archive = _export(farm_app, farm)
    manifest = json.loads(archive.read("manifest.json"))
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(archive.namelist()) - {"manifest.json"}
    for path, entry in listed.items():
        data = archive.read(path)
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], path
        assert len(data) == entry["bytes"], path

    devices = _table(archive, "devices")
    assert sorted(d["id"] for d in devices) == farm.devices
    assert {d["name"] for d in devices} == {VI_NAME, ZH_NAME}
    readings = _table(archive, "readings")
    assert len(readings) == farm.readings == listed["readings.csv"]["rows"]
    assert {r["device_id"] for r in readings} == set(farm.devices)
    assert readings[0]["ts"].endswith("Z") and readings[0]["value"] == "0.25"
    hourly = _table(archive, "readings_hourly")
    assert sum(int(r["count"]) for r in hourly) == farm.readings
    assert sum(int(r["count"]) for r in _table(archive, "readings_daily")) == farm.readings

    detections = _table(archive, "detections")
    assert sorted(int(d["id"]) for d in detections) == farm.detections
    for detection_id, thumbnail in farm.thumbnails.items():
        assert archive.read(f"detections/thumbnails/{detection_id}.jpg") == thumbnail
    [verdict] = _table(archive, "verdicts")
    assert verdict["verdict"] == "rejected" and verdict["label"] == "Tomato___Early_blight"
    observations = _table(archive, "observations")
    assert sorted(int(o["id"]) for o in observations) == farm.observations
    photos = farm_app.app.state.settings.data_dir / "observations"
    for observation_id, name in farm.photos.items():
        stored = (photos / name).read_bytes()
        assert archive.read(f"observations/photos/{observation_id}.jpg") == stored
        assert listed[f"observations/photos/{observation_id}.jpg"]["sha256"] == \
            hashlib.sha256(stored).hexdigest()
    verdicts = _table(archive, "observation_verdicts")
    assert [(int(v["observation_id"]), v["verdict"], v["label"]) for v in verdicts] == [
        (farm.observations[0], "rejected", "Tomato___Early_blight"),
        (farm.observations[1], "confirmed", "")]
    assert len(_table(archive, "events")) == 2
    [alert] = _table(archive, "alerts")
    assert alert["device_id"] == farm.devices[0]
    [field] = _table(archive, "fields")
    assert field["name"] == f"{farm.name} lô 1" and field["crop"] == "cà phê"

    [member] = _table(archive, "members")
    assert member == {"user_id": member["user_id"], "email": farm.admin_email, "role": "admin",
                      "language": "", "active": "true", "member_since": member["member_since"]}
    audit = _table(archive, "audit_log")
    assert {a["action"] for a in audit} >= {"farm.update", "farm.export"}

    everything = b"".join(archive.read(name) for name in archive.namelist())
    for foreign in (*other.devices, other.name, other.admin_email, "argon2"):
        assert foreign.encode() not in everything, foreign
    assert manifest["farm"] == {"id": farm.farm_id, "name": farm.name}


def test_parquet_and_the_readme_describe_the_same_tables(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData]) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    archive = _export(farm_app, two_farms[0])
    manifest = {f["path"]: f for f in json.loads(archive.read("manifest.json"))["files"]}
    readme = archive.read("README.md").decode()
    for table in TABLES:
        frame = pq.read_table(io.BytesIO(archive.read(f"parquet/{table.name}.parquet")))
        assert frame.column_names == [c.name for c in table.columns]
        assert frame.num_rows == manifest[f"{table.name}.csv"]["rows"]
        assert f"## {table.name}.csv" in readme
        for column in table.columns:
            assert f"| `{column.name}` | {column.about} |" in readme
    readings = pq.read_table(io.BytesIO(archive.read("parquet/readings.parquet")))
    assert str(readings.schema.field("ts").type) == "timestamp[us, tz=UTC]"
    names = pq.read_table(io.BytesIO(archive.read("parquet/devices.parquet"))).column("name")
    assert set(names.to_pylist()) == {VI_NAME, ZH_NAME}


def test_without_pyarrow_the_export_is_csv_only(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData]) -> None:
    from agrifleet.fleet.farmdata.export import export_chunks

    state = farm_app.app.state
    data = b"".join(export_chunks(state.engine, two_farms[0].farm_id, state.settings.data_dir,
                                  parquet=False))
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert not [n for n in archive.namelist() if n.startswith("parquet/")]
    assert "parquet" not in archive.read("README.md").decode()
    assert len(_table(archive, "readings")) == two_farms[0].readings


def test_since_and_until_bound_what_happened_in_time(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData]) -> None:
    farm = two_farms[0]
    archive = _export(farm_app, farm, since="2026-06-01T15:00:00Z",
                      until="2026-06-01T20:00:00Z")
    readings = _table(archive, "readings")
    assert len(readings) == 2 * 5  # hours 15..19 of both devices
    assert {r["ts"][11:13] for r in readings} == {"15", "16", "17", "18", "19"}
    assert [int(o["id"]) for o in _table(archive, "observations")] == []
    assert len(_table(archive, "devices")) == 2  # reference tables whole
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["since"] == "2026-06-01T15:00:00Z"
    # until before since is an empty window, as on every route with the two (docs/fleet.md)
    empty = _export(farm_app, farm, since="2026-06-02T00:00:00Z", until="2026-06-01T00:00:00Z")
    assert _table(empty, "readings") == []


def test_only_the_farms_admin_may_export_it(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData]) -> None:
    farm, other = two_farms
    url = f"/api/v1/farms/{farm.farm_id}/export"
    assert farm_app.client.get(url).status_code == 401
    stranger = farm_app.client.get(url, headers=_headers(farm_app, other.admin_email))
    assert stranger.status_code == 404
    from tests.fleet.people.auth.people import add_user

    add_user(farm_app.app.state.engine, "viewer-a@example.org", {farm.farm_id: "viewer"})
    viewer = farm_app.client.get(url, headers=_headers(farm_app, "viewer-a@example.org"))
    assert viewer.status_code == 403 and "admin" in viewer.text
    assert farm_app.client.get(url, params={"sinse": "2026-01-01"},
                               headers=_headers(farm_app, farm.admin_email)).status_code == 422
    with Session(farm_app.app.state.engine) as session:
        exports = session.exec(select(AuditEntry).where(
            col(AuditEntry.action) == "farm.export")).all()
    assert exports == []


def test_the_command_writes_the_same_zip(farm_app: FleetUnderTest,
                                         two_farms: tuple[FarmData, FarmData],
                                         tmp_path: Path) -> None:
    from tests.fleet.test_cli import _env, _run

    farm = two_farms[1]
    settings = farm_app.app.state.settings
    env = _env(database_url=settings.database_url, data_dir=str(settings.data_dir))
    out = tmp_path / "farm.zip"
    done = _run("export", "--farm", str(farm.farm_id), "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out) as archive:
        assert sorted(d["id"] for d in _table(archive, "devices")) == farm.devices
        assert len(_table(archive, "readings")) == farm.readings
        assert len([n for n in archive.namelist() if n.startswith("observations/photos/")]) == 2
    missing = _run("export", "--farm", "999", "--out", str(out), env=env)
    assert missing.returncode == 1 and "no farm 999" in missing.stderr
    bad: Any = _run("export", "--farm", "1", "--out", str(out), "--since", "yesterday", env=env)
    assert bad.returncode == 2 and "ISO 8601" in bad.stderr
