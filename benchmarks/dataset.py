"""A season's data in a fresh database, and the REST API's latency on it.

Fills a database with ``--devices`` devices (1,000), ``--readings`` readings (10 M; 7
quantities per poll, spread over a season) and ``--detections`` detections (100k) in big
chunks (binary COPY on PostgreSQL, executemany on SQLite), counts the rollups from them, then
times the API in-process (FastAPI's TestClient, a viewer token): GET /devices, a device's
hourly and daily buckets for the whole season, a 15-minute chart of one week (raw rows), its
latest 1,000 raw readings, and the detections list; then the dashboard's pages signed in as a
viewer (overview, a node with a week and with the season of charts, the detections gallery);
p50 and p95 of ``--requests`` each. The season ends at the present.

    nice -n 10 .venv/bin/python -m benchmarks.dataset [--postgres] [--readings 10000000]
        [--devices 1000] [--detections 100000] [--requests 50]
        [--record docs/performance.md --tag api-pg]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert
from sqlmodel import SQLModel

from agrifleet.fleet.db import make_engine
from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.migrate import upgrade
from agrifleet.fleet.telemetry import partitions, rollups, staging
from agrifleet.fleet.telemetry.rows import READING_COLUMNS, SQLITE_TIME
from agrifleet.fleet.telemetry.store import READING_PG_COLUMNS
from benchmarks.ingest import record
from benchmarks.record import commit, machine
from benchmarks.storage import QUANTITIES

#: The season ends now (the hour before), so the dashboard's "last week" and "last hour"
#: charts, which end at the present, show data.
SEASON_START = (datetime.now(UTC) - timedelta(days=120)).replace(minute=0, second=0,
                                                                   microsecond=0)
CHUNK = 50_000


def _reading_rows(devices: int, readings: int) -> Iterator[tuple[Any, ...]]:
    """Every device polls its 7 quantities every ``step`` seconds through the season."""
    polls = max(1, readings // (devices * len(QUANTITIES)))
    step = timedelta(seconds=max(1, int(120 * 86400 / polls)))  # 120 days
    stored = datetime.now(UTC)
    for d in range(devices):
        dev = f"dev-{d:04d}"
        ts = SEASON_START
        for p in range(polls):
            for q, (sensor, quantity, unit) in enumerate(QUANTITIES):
                seq = p * len(QUANTITIES) + q
                yield (dev, "b1", seq, ts, float(seq), True, False, sensor, quantity,
                       20.0 + (seq * 7919 % 1000) / 100, unit, stored)  # fmt: skip
            ts += step


def _chunks(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def load(engine: Engine, devices: int, readings: int, detections: int) -> dict[str, float]:
    """Fill the database; seconds per step."""
    took: dict[str, float] = {}
    began = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(Device), [{"id": f"dev-{d:04d}", "name": f"Field {d}", "tags": []}
                                      for d in range(devices)])  # fmt: skip
    columns = ", ".join(READING_COLUMNS)
    n = 0
    for chunk in _chunks(_reading_rows(devices, readings)):
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                staging.copy_rows(conn, "reading", READING_PG_COLUMNS, chunk)
            else:
                marks = ", ".join(["?"] * len(READING_COLUMNS))
                conn.exec_driver_sql(
                    f"INSERT INTO reading ({columns}) VALUES ({marks})",  # noqa: S608
                    [(*r[:3], r[3].strftime(SQLITE_TIME), *r[4:11], r[11].strftime(SQLITE_TIME))
                     for r in chunk],
                )  # fmt: skip
        n += len(chunk)
    took["readings_s"] = time.perf_counter() - began
    began = time.perf_counter()
    with engine.begin() as conn:
        rollups.rebuild(conn)
    took["rollups_s"] = time.perf_counter() - began
    began = time.perf_counter()
    detection = SQLModel.metadata.tables["detection"]
    rng = random.Random(7)
    for start in range(0, detections, CHUNK):
        rows: list[dict[str, Any]] = [
            {"device_id": f"dev-{i % devices:04d}", "boot_id": "b1", "seq": 10**9 + i,
             "ts": SEASON_START + timedelta(seconds=i * 97 % (120 * 86400)), "uptime_s": 1.0,
             "clock_synced": True, "future": False, "camera": "leafcam",
             "label": rng.choice(["Tomato___healthy", "Tomato___Late_blight"]),
             "confidence": 0.9, "uncertain": False, "top3": [], "model_name": "leafnet",
             "model_version": "1.0.0", "model_sha256": "a" * 64, "inference_ms": 40.0,
             "image_sha256": "b" * 64, "stored_at": SEASON_START, "thumbnail": None}
            for i in range(start, min(detections, start + CHUNK))
        ]  # fmt: skip
        with engine.begin() as conn:
            conn.execute(insert(detection), rows)
    took["detections_s"] = time.perf_counter() - began
    took["readings"] = n
    return took


def measure(url: str, requests: int) -> dict[str, tuple[float, float]]:
    """(p50, p95) in ms per route."""
    from fastapi.testclient import TestClient

    from agrifleet.fleet.app import create_app
    from agrifleet.fleet.people.auth import create_token
    from agrifleet.fleet.settings import FleetSettings

    app = create_app(FleetSettings(database_url=url))
    out: dict[str, tuple[float, float]] = {}
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {create_token(app.state.engine, 'viewer')}"}
        week = SEASON_START + timedelta(days=60)
        routes: dict[str, tuple[str, dict[str, Any]]] = {
            "GET /devices (1,000 devices)": ("/api/v1/devices", {}),
            "readings ?bucket=3600, season, one quantity": (
                "/api/v1/devices/dev-0007/readings",
                {"bucket": 3600, "quantity": "moisture", "limit": 5000}),
            "readings ?bucket=86400, season, all quantities": (
                "/api/v1/devices/dev-0007/readings", {"bucket": 86400}),
            "readings ?bucket=900, one week (raw rows)": (
                "/api/v1/devices/dev-0007/readings",
                {"bucket": 900, "quantity": "moisture", "since": week.isoformat(),
                 "until": (week + timedelta(days=7)).isoformat()}),
            "readings, latest 1,000 raw": ("/api/v1/devices/dev-0007/readings", {}),
            "detections, latest 100": ("/api/v1/detections", {"limit": 100}),
        }  # fmt: skip
        # The dashboard's pages, signed in as a viewer of the farm (a session cookie).
        pages: dict[str, tuple[str, dict[str, Any]]] = {
            "page: overview": ("/", {}),
            "page: node, a week of charts": ("/nodes/dev-0007", {"span": "week"}),
            "page: node, the season": ("/nodes/dev-0007", {"span": "season"}),
            "page: detections gallery": ("/detections", {}),
        }
        _sign_in(app, client)
        for name, (path, params) in {**routes, **pages}.items():
            times = []
            for _ in range(requests):
                began = time.perf_counter()
                response = client.get(path, params=params,
                                      headers={} if name.startswith("page:") else headers)
                times.append((time.perf_counter() - began) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"{name}: {response.status_code} {response.text[:200]}")
            times.sort()
            out[name] = (statistics.median(times), times[int(0.95 * (len(times) - 1))])
    return out


def _sign_in(app: Any, client: Any) -> None:
    """A viewer of the default farm (where the dataset's devices are), signed in."""
    from sqlmodel import Session

    from agrifleet.fleet.devices.tables import DEFAULT_FARM_ID
    from agrifleet.fleet.people.auth.passwords import hash_password
    from agrifleet.fleet.people.tables import Membership, User

    password = "benchmark viewer password"  # noqa: S105 - a throw-away benchmark account
    with Session(app.state.engine) as session:
        user = User(email="bench@farm.example", password_hash=hash_password(password))
        session.add(user)
        session.flush()
        session.add(Membership(user_id=user.id or 0, farm_id=DEFAULT_FARM_ID, role="viewer"))
        session.commit()
    answer = client.post("/api/v1/auth/login",
                         json={"email": "bench@farm.example", "password": password})
    if answer.status_code != 200:
        raise RuntimeError(f"sign-in: {answer.status_code} {answer.text[:200]}")


def run(url: str, devices: int, readings: int, detections: int, requests: int) -> dict[str, Any]:
    machine_text = machine()
    engine = make_engine(url)
    upgrade(engine)
    # PostgreSQL: the season's monthly partitions, as a fleet running through it made them.
    partitions.ensure(engine, SEASON_START, ahead=5)
    took = load(engine, devices, readings, detections)
    engine.dispose()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit(),
        "machine": machine_text,
        "database": "PostgreSQL" if url.startswith("postgresql") else "SQLite (WAL)",
        "devices": devices, "detections": detections, "load": took,
        "latency": measure(url, requests), "requests": requests,
    }  # fmt: skip


def as_markdown(r: dict[str, Any]) -> str:
    load = r["load"]
    lines = [
        f"Run {r['date']}, commit `{r['commit']}`, {r['machine']}; {r['database']}.",
        f"{r['devices']:,} devices, {load['readings']:,} readings over 120 days (loaded in "
        f"{load['readings_s']:,.0f} s, rollups counted in {load['rollups_s']:,.0f} s), "
        f"{r['detections']:,} detections; {r['requests']} requests per route, in-process.",
        "",
        "| route | p50 | p95 |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {name} | {p50:,.1f} ms | {p95:,.1f} ms |"
              for name, (p50, p95) in r["latency"].items()]  # fmt: skip
    return "\n".join([*lines, ""])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--readings", type=int, default=10_000_000)
    parser.add_argument("--detections", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50, help="per route")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temp dir")
    parser.add_argument("--postgres", action="store_true",
                        help="start a private PostgreSQL (tests/services.py; fsync off)")
    parser.add_argument("--record", type=Path, help="write the result into this markdown file")
    parser.add_argument("--tag", default="api", help="<!-- benchmark:TAG:… --> markers")
    args = parser.parse_args()
    sizes = (args.devices, args.readings, args.detections, args.requests)
    if args.postgres:
        from tests.services import running_postgres

        with running_postgres() as server:
            result = run(server.create_database(), *sizes)
            result["database"] = "PostgreSQL (private test cluster, fsync off)"
    else:
        url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='agrifleet-ds-')}/f.db"
        result = run(url, *sizes)
    markdown = as_markdown(result)
    print(markdown)
    if args.record:
        record(markdown, args.record, args.tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
