"""A whole fleet on this machine for end-to-end tests: Mosquitto, the fleet, simulators, agents."""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.request
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from agrifleet.demo.local_fleet import LocalFleet, LocalFleetOptions
from tests.services import Postgres, free_port

#: Short timers so a test sees resends and reconnects within seconds, not minutes.
FAST_AGENT = """
[outbox]
ack_timeout_s = 3.0
"""


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fleet.db'}"
    postgres: Postgres = request.getfixturevalue("postgres")
    return postgres.create_database()


@pytest.fixture
def make_fleet(tmp_path: Path) -> Iterator[Callable[..., LocalFleet]]:
    started: list[LocalFleet] = []

    def make(database_url: str | None = None, agents: int = 2, **options: Any) -> LocalFleet:
        fleet = LocalFleet(
            LocalFleetOptions(
                workdir=tmp_path / "fleet",
                port=free_port(),
                agents=agents,
                broker="mosquitto",
                feed_images=options.pop("feed_images", False),
                sensor_interval_s=options.pop("sensor_interval_s", 0.5),
                database_url=database_url,
                agent_extra_toml=FAST_AGENT + options.pop("agent_extra_toml", ""),
                **options,
            )
        )
        started.append(fleet)
        fleet.start()
        return fleet

    yield make
    for fleet in started:
        fleet.stop()


def api(fleet: LocalFleet, path: str) -> Any:
    request = urllib.request.Request(  # noqa: S310 - the test's own fleet
        f"{fleet.api_url}/api/v1{path}", headers={"Authorization": f"Bearer {fleet.token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except OSError:  # the fleet may be restarting
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.5)


def produced(fleet: LocalFleet, device: str) -> dict[str, int]:
    """Items each boot of the device committed to its outbox: boot id → count (seq 0..n-1)."""
    path = fleet.options.workdir / device / "outbox.sqlite"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
        return dict(db.execute("SELECT boot_id, next_seq FROM sequences").fetchall())


def stored_everything(fleet: LocalFleet, device: str, boots: dict[str, int]) -> bool:
    """The fleet holds every seq 0..n-1 of each boot (it may hold later ones too)."""
    seen = {b["boot_id"]: b for b in api(fleet, f"/devices/{device}/gaps")}
    for boot, count in boots.items():
        if count == 0:
            continue
        got = seen.get(boot)
        if got is None or got["missing"] != 0 or got["highest_seq"] < count - 1:
            return False
    return True


def duplicates_stored(database_url: str) -> int:
    """Rows beyond the first for any (device, boot, seq) over readings, events and detections."""
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sqlalchemy.text(
                        "SELECT COALESCE(SUM(n - 1), 0) FROM ("
                        " SELECT device_id, boot_id, seq, COUNT(*) AS n FROM ("
                        "  SELECT device_id, boot_id, seq FROM reading UNION ALL"
                        "  SELECT device_id, boot_id, seq FROM event UNION ALL"
                        "  SELECT device_id, boot_id, seq FROM detection) AS items"
                        " GROUP BY device_id, boot_id, seq) AS counted"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def assert_nothing_lost(fleet: LocalFleet, database_url: str, timeout: float = 60) -> None:
    """Every item every agent committed reaches the fleet exactly once."""
    for device in fleet.devices:
        boots = produced(fleet, device)
        assert sum(boots.values()) > 0, f"{device} produced nothing"
        wait_until(
            partial(stored_everything, fleet, device, boots), timeout, f"{device}: {boots}"
        )
    assert duplicates_stored(database_url) == 0
