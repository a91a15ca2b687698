"""Retention specifies: with AGRIFLEET_RETENTION_DAYS set, raw readings dated further back are
deleted (in batches, by the fleet itself once it runs) and newer ones kept, as are the hourly
and daily rollups; unset, nothing is deleted; zero or a negative number of days is refused."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from fleet import retention
from fleet.settings import FleetSettings
from fleet.writer import Incoming, Writer
from tests.fleet.conftest import FleetUnderTest, running_fleet
from tests.fleet.device import batch, reading
from tests.fleet.storage.helpers import stored_rollups

READINGS = "/api/v1/devices/field-a/readings"


def _store_ages(app: object, days_ago: list[int]) -> datetime:
    now = datetime.now(UTC).replace(microsecond=0)
    items = [reading(s, value=float(s), ts=now - timedelta(days=d, minutes=s))
             for s, d in enumerate(days_ago)]  # fmt: skip
    writer = Writer(app.state.engine, app.state.metrics, "agrifleet",  # type: ignore[attr-defined]
                    lambda _dev, _ack: None)  # fmt: skip
    writer.write([Incoming("agrifleet/field-a/messages", batch("field-a", "b1", items))])
    return now


def test_old_readings_go_in_batches_newer_ones_and_rollups_stay(api: FleetUnderTest) -> None:
    api.register("field-a")
    now = _store_ages(api.app, [400, 100, 31, 29, 1, 0, 400, 100])
    engine = api.app.state.engine
    days = stored_rollups(engine, 86400)
    assert retention.prune(engine, 30, now=now, batch=2).deleted == 5
    assert sorted(r["seq"] for r in api.get(READINGS)) == [3, 4, 5]
    assert stored_rollups(engine, 86400) == days  # the season chart keeps last year
    assert sum(b["count"] for b in api.get(READINGS, bucket=86400)) == 8
    assert retention.prune(engine, 30, now=now) == retention.Pruned()


def test_the_fleet_thread_deletes_what_is_old_at_start(database_url: str) -> None:
    with running_fleet(FleetSettings(database_url=database_url)) as fleet:
        fleet.register("field-a")
        _store_ages(fleet.app, [90, 2])
        assert len(fleet.get(READINGS)) == 2  # unset: everything kept
    with running_fleet(FleetSettings(database_url=database_url, retention_days=30)) as fleet:
        deadline = time.monotonic() + 30
        while len(fleet.get(READINGS)) != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [r["seq"] for r in fleet.get(READINGS)] == [1]


@pytest.mark.parametrize("days", ["0", "-3", "soon"])
def test_a_retention_of_no_days_is_refused(days: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("AGRIFLEET_RETENTION_DAYS", days)
    with pytest.raises(ValidationError, match="retention_days"):
        FleetSettings(database_url=f"sqlite:///{tmp_path / 'f.db'}")
