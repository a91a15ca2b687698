"""Exports prepared in the background, for farms too large for one unbroken download: the ZIP of
:func:`fleet.farmdata.export.export_chunks` is written to the fleet's disk while the farm's
admin watches its progress, then downloaded with HTTP ranges, so a broken download resumes
where it stopped instead of exporting again.

Everything about a job is on disk (``DATA_DIR/exports/farm-N/JOB.json`` and ``JOB.zip``), so
whichever API worker process is asked answers for it. A prepared ZIP is kept
:data:`KEEP` after it is done, then removed (:func:`sweep`, by the retention thread and at each
new job); erasing any of a farm's data removes its prepared ZIPs (:func:`remove_farm`), which
hold what was erased.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine

from agrifleet.fleet.farmdata.export import export_chunks

log = logging.getLogger(__name__)

EXPORTS = "exports"
#: How long a prepared ZIP stays on disk once it is done (or failed).
KEEP = timedelta(hours=24)
#: A running job whose status was not written for this long died with its process.
STALE = timedelta(minutes=10)
#: The status is written again after this many bytes of ZIP.
PROGRESS_EVERY = 4 * 1024 * 1024
JOB_ID = re.compile(r"^[0-9a-f]{32}$")


class ExportJob(BaseModel):
    """One export prepared on disk, as its status file holds it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    farm_id: int
    status: Literal["running", "done", "failed"]
    since: datetime | None
    until: datetime | None
    requested_by: str
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    bytes: int = 0
    error: str | None = None


def farm_dir(data_dir: Path, farm_id: int) -> Path:
    return data_dir / EXPORTS / f"farm-{farm_id}"


def zip_path(data_dir: Path, job: ExportJob) -> Path:
    return farm_dir(data_dir, job.farm_id) / f"{job.id}.zip"


def _save(data_dir: Path, job: ExportJob) -> None:
    path = farm_dir(data_dir, job.farm_id) / f"{job.id}.json"
    tmp = path.with_suffix(".json.part")
    tmp.write_text(job.model_dump_json(), encoding="utf-8")
    os.replace(tmp, path)


def start(engine: Engine, data_dir: Path, farm_id: int, since: datetime | None,
          until: datetime | None, requested_by: str) -> ExportJob:
    """Start writing the farm's ZIP in a thread of this process; the job as it starts."""
    sweep(data_dir)
    now = datetime.now(UTC)
    job = ExportJob(id=secrets.token_hex(16), farm_id=farm_id, status="running", since=since,
                    until=until, requested_by=requested_by, started_at=now, updated_at=now)
    farm_dir(data_dir, farm_id).mkdir(parents=True, exist_ok=True)
    _save(data_dir, job)
    threading.Thread(target=_run, args=(engine, data_dir, job), daemon=True,
                     name=f"farm-export-{farm_id}").start()
    return job


def _run(engine: Engine, data_dir: Path, job: ExportJob) -> None:
    target = zip_path(data_dir, job)
    part = target.with_suffix(".zip.part")
    saved = 0
    try:
        with open(part, "wb") as out:
            for chunk in export_chunks(engine, job.farm_id, data_dir, job.since, job.until):
                out.write(chunk)
                job.bytes += len(chunk)
                if job.bytes - saved >= PROGRESS_EVERY:
                    job.updated_at = datetime.now(UTC)
                    _save(data_dir, job)
                    saved = job.bytes
        os.replace(part, target)
        job.status = "done"
    except Exception as exc:  # reported in the job's status, never raised
        log.exception("export of farm %d failed", job.farm_id)
        part.unlink(missing_ok=True)
        job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"[:500]
    job.updated_at = job.finished_at = datetime.now(UTC)
    try:
        _save(data_dir, job)
    except OSError:  # the farm's exports were removed meanwhile (an erasure)
        target.unlink(missing_ok=True)


def read(data_dir: Path, farm_id: int, job_id: str,
         now: datetime | None = None) -> ExportJob | None:
    """The job, or None when the farm has no such job (or it was removed). A running job whose
    status has not moved for :data:`STALE` is reported failed: its process stopped."""
    if not JOB_ID.match(job_id):
        return None
    try:
        job = ExportJob.model_validate_json(
            (farm_dir(data_dir, farm_id) / f"{job_id}.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if job.status == "running" and (now or datetime.now(UTC)) - job.updated_at > STALE:
        job.status = "failed"
        job.error = "the fleet stopped while writing this export; start a new one"
    return job


def sweep(data_dir: Path, now: datetime | None = None) -> int:
    """Remove jobs finished (or stopped) more than :data:`KEEP` ago; how many."""
    root = data_dir / EXPORTS
    moment = now or datetime.now(UTC)
    removed = 0
    for status in root.glob("farm-*/*.json") if root.is_dir() else []:
        try:
            job = ExportJob.model_validate_json(status.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if moment - (job.finished_at or job.updated_at) <= KEEP:
            continue
        for path in (status, status.with_suffix(".zip"), status.with_suffix(".zip.part")):
            path.unlink(missing_ok=True)
        removed += 1
    return removed


def remove_farm(data_dir: Path, farm_id: int) -> int:
    """Remove every prepared export of the farm (they hold what an erasure erases); how many
    ZIP files were removed."""
    folder = farm_dir(data_dir, farm_id)
    if not folder.is_dir():
        return 0
    count = len(list(folder.glob("*.zip")))
    shutil.rmtree(folder, ignore_errors=True)
    return count
