"""Rows a database already holds with odd times (year 1, 9999-12-31T23:59:59.999999Z, and on
SQLite the unpadded "1-01-01" text an older writer stored) specify: raw readings in either
order, buckets of any size and the device's latest readings answer 200, never 500, on SQLite
and on PostgreSQL whatever its time zone; buckets clip such rows into 1970..9999. Infinite
values stored by hand show as null, in raw readings and in buckets alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.web.api.params import MAX_BUCKET_S
from tests.fleet.conftest import FleetUnderTest, MigratedTemplates, running_fleet
from tests.fleet.device import T0, reading
from tests.fleet.web.api.rows import insert_infinite_readings, insert_odd_readings, store_items

READINGS = "/api/v1/devices/field-01/readings"


@pytest.fixture(
    params=[
        "sqlite",
        # +14 h: 9999-12-31T23:59:59Z has no local datetime; -12 h: nor has year 1.
        pytest.param("Pacific/Kiritimati", marks=pytest.mark.postgres),
        pytest.param("Etc/GMT+12", marks=pytest.mark.postgres),
    ]
)
def odd(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: MigratedTemplates
) -> Iterator[FleetUnderTest]:
    """The fleet on a database holding field-01's normal and oddly dated readings."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fleet.db'}"
        migrated_templates.fill(url)
    else:
        server = request.getfixturevalue("postgres")
        url = migrated_templates.new_postgres_database(server)
        name = url.rsplit("/", 1)[1]
        dsn = f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE \"{name}\" SET timezone = '{request.param}'")
    with running_fleet(FleetSettings(database_url=url)) as running:
        running.register("field-01")
        store_items(running.app, "field-01", [reading(s, value=float(s)) for s in range(3)])
        insert_odd_readings(running.app.state.engine, "field-01")
        yield running


def _early(fleet: FleetUnderTest) -> int:
    """Readings dated year 1: SQLite also holds the unpadded row."""
    return 2 if fleet.app.state.engine.dialect.name == "sqlite" else 1


def test_raw_readings_come_in_order_whatever_their_year(odd: FleetUnderTest) -> None:
    ascending = [r["ts"] for r in odd.get(READINGS, order="asc")]
    early = _early(odd)
    assert ascending[:early] == ["0001-01-01T00:00:00Z"] * early
    assert ascending[early:-1] == [f"{T0:%Y-%m-%dT%H:%M:0}{s}Z" for s in range(3)]
    assert ascending[-1] == "9999-12-31T23:59:59.999999Z"
    assert [r["ts"] for r in odd.get(READINGS, order="desc")] == ascending[::-1]


@pytest.mark.parametrize("seconds", [1, 7, 3600, MAX_BUCKET_S])
def test_buckets_clip_odd_rows_into_1970_to_9999(odd: FleetUnderTest, seconds: int) -> None:
    buckets = odd.get(READINGS, bucket=seconds)
    assert sum(b["count"] for b in buckets) == _early(odd) + 3 + 1
    first, last = buckets[0], buckets[-1]
    assert first["start"] == "1970-01-01T00:00:00Z" and first["count"] == _early(odd)
    assert first["min"] == 1.0 and first["max"] == (2.0 if _early(odd) == 2 else 1.0)
    assert "2026-06-01T12:00:00Z" >= buckets[1]["start"] > "2026"
    assert last["max"] == 9999.0 and "9999-12-31T23:59:59Z" >= last["start"] > "9999"


def test_windows_exclude_what_lies_outside_them(odd: FleetUnderTest) -> None:
    inside = odd.get(READINGS, since="1970-01-01T00:00:00Z", until="9999-12-31T23:59:59Z")
    assert [r["value"] for r in inside] == [2.0, 1.0, 0.0]


def test_the_latest_reading_dated_9999_is_shown(odd: FleetUnderTest) -> None:
    latest = {r["sensor"]: r["ts"] for r in odd.get("/api/v1/devices/field-01")["latest"]}
    assert latest["odd"] == "9999-12-31T23:59:59.999999Z"


def test_infinite_values_show_as_null_not_as_a_500(odd: FleetUnderTest) -> None:
    insert_infinite_readings(odd.app.state.engine, "field-01")
    assert [r["value"] for r in odd.get(READINGS, sensor="wild")] == [None, None]
    [bucket] = odd.get(READINGS, sensor="wild", bucket=60)
    assert bucket["count"] == 2
    assert (bucket["min"], bucket["mean"], bucket["max"]) == (None, None, None)
