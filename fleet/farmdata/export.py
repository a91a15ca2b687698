"""One farm's data as one ZIP, produced as it is written: :func:`export_chunks` yields the
archive in pieces while it reads the database, so memory stays flat however large the farm.

The ZIP holds each table of :mod:`fleet.farmdata.contents` as CSV (UTF-8 with a byte order mark,
so Excel reads Vietnamese and Chinese text right; ISO 8601 UTC times; a header row) and, when
``pyarrow`` is installed (the ``export`` extra), as Parquet too; the detections' thumbnails and
the scouting photos as JPEG files; a ``README.md`` that says what each file and column is; and
``manifest.json`` last, with every other file's SHA-256, size and (for tables) row count.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, select

from agrifleet import __version__
from agrifleet.fleet.farmdata.contents import DETECTION, FARM, OBSERVATION, TABLES, Scope, Table
from agrifleet.fleet.modelops.observations import PhotoStore
from agrifleet.fleet.people.tables import Farm

#: Rows read from the database per round trip.
YIELD_PER = 5_000
#: Rows per Parquet row group.
PARQUET_BATCH = 50_000
#: The archive is handed on once this many bytes are waiting.
CHUNK = 256 * 1024
PHOTO_DIR = "observations/photos"
THUMB_DIR = "detections/thumbnails"


def parquet_available() -> bool:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


class _Sink(io.RawIOBase):
    """Where the ZIP writes; the bytes wait here until :func:`export_chunks` yields them. It
    cannot seek, so :mod:`zipfile` writes each entry's sizes after it (data descriptors)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.waiting = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self.waiting += len(chunk)
        return len(chunk)

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        self.waiting = 0
        return out


@dataclass
class Entry:
    path: str
    sha256: str
    bytes: int
    rows: int | None = None


@dataclass
class _Archive:
    """The ZIP being written, and what the manifest will say of each entry."""

    sink: _Sink
    zip: zipfile.ZipFile
    entries: list[Entry] = field(default_factory=list)
    #: Photos the database names but the data directory no longer holds.
    missing: list[str] = field(default_factory=list)

    def ready(self) -> bool:
        return self.sink.waiting >= CHUNK

    def open(self, path: str, compress: bool = True) -> _HashedEntry:
        info = zipfile.ZipInfo(path, date_time=datetime.now(UTC).timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        return _HashedEntry(self, path, self.zip.open(info, "w", force_zip64=True))

    def add_bytes(self, path: str, data: bytes, compress: bool = True) -> None:
        with self.open(path, compress) as out:
            out.write(data)


class _HashedEntry:
    """One file in the ZIP, hashed and counted as it is written."""

    def __init__(self, archive: _Archive, path: str, raw: IO[bytes]) -> None:
        self.archive, self.path, self.raw = archive, path, raw
        self.hash = hashlib.sha256()
        self.size = 0
        self.rows: int | None = None

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        self.raw.write(data)
        return len(data)

    def __enter__(self) -> _HashedEntry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.raw.close()
        if exc[0] is None:
            self.archive.entries.append(Entry(self.path, self.hash.hexdigest(), self.size,
                                              self.rows))


def cell(value: Any, kind: str) -> str:
    """A value as CSV text: ISO 8601 UTC times, JSON for structures, true/false, empty for null."""
    if value is None:
        return ""
    if kind == "time":
        return iso(value)
    if kind == "json":
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    if kind == "bool":
        return "true" if value else "false"
    if kind == "float":
        return repr(float(value))
    return str(value)


def iso(moment: datetime) -> str:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _rows(conn: Connection, table: Table, scope: Scope) -> Iterator[Any]:
    result = conn.execution_options(stream_results=True, yield_per=YIELD_PER).execute(
        table.query(scope))
    yield from result


def _write_csv(archive: _Archive, conn: Connection, table: Table,
               scope: Scope) -> Iterator[bytes]:
    kinds = [c.kind for c in table.columns]
    with archive.open(f"{table.name}.csv") as entry:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\r\n")
        text.write("\ufeff")
        writer.writerow([c.name for c in table.columns])
        rows = 0
        for row in _rows(conn, table, scope):
            writer.writerow([cell(v, k) for v, k in zip(row, kinds, strict=True)])
            rows += 1
            if text.tell() >= CHUNK // 4:
                entry.write(text.getvalue().encode("utf-8"))
                text.seek(0)
                text.truncate()
                if archive.ready():
                    yield archive.sink.take()
        entry.write(text.getvalue().encode("utf-8"))
        entry.rows = rows


def _arrow_type(kind: str) -> Any:
    import pyarrow as pa

    return {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(),
            "time": pa.timestamp("us", tz="UTC")}.get(kind, pa.string())


def _arrow_value(value: Any, kind: str) -> Any:
    if value is None or kind in ("int", "float", "bool", "time"):
        return value
    if kind == "json":
        return cell(value, kind)
    return str(value)


def _write_parquet(archive: _Archive, conn: Connection, table: Table,
                   scope: Scope) -> Iterator[bytes]:
    """The table as Parquet: written in row groups to a temporary file, then copied in."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c.name, _arrow_type(c.kind)) for c in table.columns])
    kinds = [c.kind for c in table.columns]
    rows = 0
    with tempfile.TemporaryFile() as tmp:
        with pq.ParquetWriter(tmp, schema) as writer:
            columns: list[list[Any]] = [[] for _ in kinds]

            def flush() -> None:
                writer.write_table(pa.table(
                    [pa.array(values, type=schema.field(i).type)
                     for i, values in enumerate(columns)], schema=schema))
                for values in columns:
                    values.clear()

            for row in _rows(conn, table, scope):
                for values, value, kind in zip(columns, row, kinds, strict=True):
                    values.append(_arrow_value(value, kind))
                rows += 1
                if rows % PARQUET_BATCH == 0:
                    flush()
            if rows % PARQUET_BATCH or rows == 0:
                flush()
        tmp.seek(0)
        with archive.open(f"parquet/{table.name}.parquet", compress=False) as entry:
            entry.rows = rows
            while block := tmp.read(CHUNK):
                entry.write(block)
                if archive.ready():
                    yield archive.sink.take()


def _write_thumbnails(archive: _Archive, conn: Connection, scope: Scope) -> Iterator[bytes]:
    query = (select(DETECTION.c.id, DETECTION.c.thumbnail)
             .where(DETECTION.c.device_id.in_(scope.devices()),
                    DETECTION.c.thumbnail.is_not(None),
                    *scope.window(DETECTION.c.ts))
             .order_by(DETECTION.c.id))
    result = conn.execution_options(stream_results=True, yield_per=200).execute(query)
    for detection_id, image in result:
        archive.add_bytes(f"{THUMB_DIR}/{detection_id}.jpg", bytes(image), compress=False)
        if archive.ready():
            yield archive.sink.take()


def _write_photos(archive: _Archive, conn: Connection, scope: Scope,
                  photos: PhotoStore) -> Iterator[bytes]:
    """Each observation's photo, as stored; one missing from disk is listed in the manifest."""
    query = (select(OBSERVATION.c.id, OBSERVATION.c.photo_path)
             .where(OBSERVATION.c.farm_id == scope.farm_id,
                    *scope.window(OBSERVATION.c.taken_at))
             .order_by(OBSERVATION.c.id))
    for observation_id, name in conn.execute(query):
        path = f"{PHOTO_DIR}/{observation_id}.jpg"
        try:
            source = open(photos.path(name), "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            archive.missing.append(path)
            continue
        with source, archive.open(path, compress=False) as entry:
            while block := source.read(CHUNK):
                entry.write(block)
                if archive.ready():
                    yield archive.sink.take()


def readme(farm: Farm, scope: Scope, parquet: bool) -> str:
    """What the archive holds, file by file and column by column."""
    lines = [
        f"# Data of farm {farm.id}: {farm.name}", "",
        f"Exported by agrifleet {__version__} at {iso(datetime.now(UTC))}.",
        "Times are ISO 8601 in UTC (`2026-06-01T12:00:00Z`); CSV files are UTF-8 with a byte "
        "order mark (Excel shows Vietnamese and Chinese text right), one header row, values "
        "that are lists or objects are JSON, true/false for yes/no, empty for none.",
    ]
    if scope.since or scope.until:
        start = iso(scope.since) if scope.since else "the start"
        end = iso(scope.until) if scope.until else "now"
        lines.append(f"Things that happen in time are those from {start} until (not "
                     f"including) {end}; "
                     "devices, fields and members are exported whole.")
    lines += ["", "`manifest.json` lists every file with its SHA-256, size in bytes and (for "
              "tables) its number of rows.",
              f"`{THUMB_DIR}/N.jpg` is the thumbnail the node sent with detection N; "
              f"`{PHOTO_DIR}/N.jpg` the photo of scouting observation N."]
    if parquet:
        lines.append("`parquet/NAME.parquet` holds the same rows as `NAME.csv`, typed.")
    for table in TABLES:
        bound = f" (bounded by `{table.time_column}`)" if table.time_column else ""
        lines += ["", f"## {table.name}.csv", "", f"{table.about[0].upper()}{table.about[1:]}"
                  f"{bound}.", "", "| column | what it is |", "| --- | --- |"]
        lines += [f"| `{c.name}` | {c.about} |" for c in table.columns]
    return "\n".join(lines) + "\n"


def export_chunks(engine: Engine, farm_id: int, data_dir: Path, since: datetime | None = None,
                  until: datetime | None = None, parquet: bool | None = None,
                  ) -> Iterator[bytes]:
    """The ZIP of the farm's data, in pieces of about :data:`CHUNK` bytes.

    Reads in one repeatable-read snapshot where the database gives one (PostgreSQL), so the
    files agree with each other. ``parquet=None``: Parquet when pyarrow is installed.
    """
    with_parquet = parquet_available() if parquet is None else parquet
    scope = Scope(farm_id, since, until)
    sink = _Sink()
    archive = _Archive(sink, zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED, allowZip64=True))
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            found = conn.execute(select(FARM.c.id, FARM.c.name)
                                 .where(FARM.c.id == farm_id)).one()
            farm = Farm(id=found.id, name=found.name)
            for table in TABLES:
                yield from _write_csv(archive, conn, table, scope)
                if with_parquet:
                    yield from _write_parquet(archive, conn, table, scope)
            yield from _write_thumbnails(archive, conn, scope)
            yield from _write_photos(archive, conn, scope, PhotoStore(data_dir))
    archive.add_bytes("README.md", readme(farm, scope, with_parquet).encode("utf-8"))
    manifest = {
        "farm": {"id": farm.id, "name": farm.name},
        "exported_at": iso(datetime.now(UTC)),
        "agrifleet_version": __version__,
        "since": iso(since) if since else None,
        "until": iso(until) if until else None,
        "files": [{"path": e.path, "sha256": e.sha256, "bytes": e.bytes,
                   **({"rows": e.rows} if e.rows is not None else {})}
                  for e in archive.entries],
        "missing_photos": archive.missing,
    }
    archive.zip.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
    archive.zip.close()
    yield sink.take()


def write_export(out: IO[bytes], chunks: Iterable[bytes]) -> int:
    """Write the pieces to ``out``; the bytes written."""
    total = 0
    for chunk in chunks:
        out.write(chunk)
        total += len(chunk)
    return total

