"""A farm's export prepared in the background: its admin starts it, follows its progress, and
downloads the ZIP whole or from where a broken download stopped (a Range request); another
farm's admin and a viewer are refused; erasing the farm's data removes its prepared ZIPs; a job
whose process stopped is reported failed, and old ones are swept from disk."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from agrifleet.fleet.farmdata import export_jobs
from agrifleet.fleet.farmdata.export_jobs import ExportJob
from agrifleet.fleet.farmdata.retention import Pruner
from agrifleet.fleet.people.tables import AuditEntry
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.farmdata.data import FarmData
from tests.fleet.farmdata.test_erase import _erase
from tests.fleet.farmdata.test_export import _headers, _table


def _start(fleet: FleetUnderTest, farm: FarmData, headers: dict[str, str],
           **params: str) -> Any:
    return fleet.client.post(f"/api/v1/farms/{farm.farm_id}/exports", params=params,
                             headers=headers)


def _finished(fleet: FleetUnderTest, location: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        response = fleet.client.get(location, headers=headers)
        assert response.status_code == 200, response.text
        if response.json()["status"] != "running":
            return dict(response.json())
        assert time.monotonic() < deadline, "the export did not finish in 60 s"
        time.sleep(0.05)


def test_a_prepared_export_downloads_whole_and_resumes_from_a_range(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData]) -> None:
    farm, other = two_farms
    headers = _headers(farm_app, farm.admin_email)
    started = _start(farm_app, farm, headers)
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["farm_id"] == farm.farm_id and job["requested_by"] == farm.admin_email
    assert started.headers["location"].endswith(f"/api/v1/farms/{farm.farm_id}/exports/{job['id']}")

    done = _finished(farm_app, started.headers["location"], headers)
    assert done["status"] == "done" and done["error"] is None and done["bytes"] > 0
    assert done["download"].endswith(f"/exports/{job['id']}/download")

    whole = farm_app.client.get(done["download"], headers=headers)
    assert whole.status_code == 200 and whole.headers["content-type"] == "application/zip"
    assert len(whole.content) == done["bytes"] and whole.headers["accept-ranges"] == "bytes"
    assert f'filename="farm-{farm.farm_id}-' in whole.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(whole.content))
    for entry in json.loads(archive.read("manifest.json"))["files"]:
        assert hashlib.sha256(archive.read(entry["path"])).hexdigest() == entry["sha256"]
    assert len(_table(archive, "readings")) == farm.readings
    assert sorted(d["id"] for d in _table(archive, "devices")) == farm.devices

    half = len(whole.content) // 2  # the connection broke here: the rest, not all again
    rest = farm_app.client.get(done["download"], headers={**headers, "Range": f"bytes={half}-"})
    assert rest.status_code == 206
    assert rest.content == whole.content[half:]
    assert rest.headers["content-range"] == f"bytes {half}-{len(whole.content) - 1}/" \
        f"{len(whole.content)}"

    with Session(farm_app.app.state.engine) as session:
        entries = session.exec(select(AuditEntry).where(
            col(AuditEntry.action) == "farm.export")).all()
    assert [e.details["job"] for e in entries] == [job["id"]]
    assert entries[0].actor == farm.admin_email

    stranger = _headers(farm_app, other.admin_email)
    for path in (f"exports/{job['id']}", f"exports/{job['id']}/download"):
        assert farm_app.client.get(f"/api/v1/farms/{farm.farm_id}/{path}",
                                   headers=stranger).status_code == 404
        assert farm_app.client.get(f"/api/v1/farms/{farm.farm_id}/{path}",
                                   headers=farm_app.viewer).status_code == 403
        assert farm_app.client.get(f"/api/v1/farms/{other.farm_id}/{path}",
                                   headers=stranger).status_code == 404  # not that farm's
    assert _start(farm_app, farm, stranger).status_code == 404
    assert _start(farm_app, farm, farm_app.viewer).status_code == 403
    assert farm_app.client.get(f"/api/v1/farms/{farm.farm_id}/exports/{'0' * 32}",
                               headers=headers).status_code == 404
    assert farm_app.client.get(f"/api/v1/farms/{farm.farm_id}/exports/not-a-job",
                               headers=headers).status_code == 422


def test_a_bounded_export_holds_only_its_window(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData]) -> None:
    farm, _ = two_farms
    headers = _headers(farm_app, farm.admin_email)
    started = _start(farm_app, farm, headers, until="2000-01-01T00:00:00Z")
    done = _finished(farm_app, started.headers["location"], headers)
    assert done["until"].startswith("2000-01-01T00:00:00")
    archive = zipfile.ZipFile(io.BytesIO(farm_app.client.get(done["download"],
                                                             headers=headers).content))
    assert _table(archive, "readings") == [] and len(_table(archive, "devices")) == 2


def test_erasing_removes_the_farms_prepared_exports(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData]) -> None:
    farm, other = two_farms
    headers = _headers(farm_app, farm.admin_email)
    mine = _finished(farm_app, _start(farm_app, farm, headers).headers["location"], headers)
    theirs_headers = _headers(farm_app, other.admin_email)
    theirs = _finished(farm_app, _start(farm_app, other, theirs_headers).headers["location"],
                       theirs_headers)
    data_dir = farm_app.app.state.settings.data_dir

    receipt = _erase(farm_app, farm, before="2000-01-01T00:00:00Z")
    assert receipt.status_code == 200, receipt.text
    assert receipt.json()["counts"]["prepared_exports"] == 1
    assert not export_jobs.farm_dir(data_dir, farm.farm_id).exists()
    assert farm_app.client.get(mine["download"], headers=headers).status_code == 404
    assert farm_app.client.get(theirs["download"], headers=theirs_headers).status_code == 200


def test_a_stopped_job_is_reported_failed_and_old_jobs_are_swept(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData]) -> None:
    farm, _ = two_farms
    data_dir = farm_app.app.state.settings.data_dir
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    job = ExportJob(id="a" * 32, farm_id=farm.farm_id, status="running", since=None,
                    until=None, requested_by="vy@example.org", started_at=long_ago,
                    updated_at=long_ago, bytes=4096)
    export_jobs.farm_dir(data_dir, farm.farm_id).mkdir(parents=True)
    export_jobs._save(data_dir, job)
    headers = _headers(farm_app, farm.admin_email)
    seen = farm_app.client.get(f"/api/v1/farms/{farm.farm_id}/exports/{job.id}",
                               headers=headers).json()
    assert seen["status"] == "failed" and "start a new one" in seen["error"]
    refused = farm_app.client.get(f"/api/v1/farms/{farm.farm_id}/exports/{job.id}/download",
                                  headers=headers)
    assert refused.status_code == 409 and "start a new one" in refused.text

    assert export_jobs.sweep(data_dir, long_ago + export_jobs.KEEP) == 0  # kept a day
    pruner = Pruner(farm_app.app.state.engine, None, data_dir=data_dir)  # the retention thread
    pruner.run_once(now=long_ago + export_jobs.KEEP + timedelta(seconds=1))
    assert list(export_jobs.farm_dir(data_dir, farm.farm_id).iterdir()) == []
