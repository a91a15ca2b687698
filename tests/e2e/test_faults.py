"""Broker, fleet or agent going away mid-stream loses nothing and stores nothing twice.

Each test counts the items the agents committed to their outboxes (produced) against the items
the fleet stored: lost = 0, duplicates stored = 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import pytest

from agrifleet.demo.local_fleet import LocalFleet
from tests.e2e.conftest import api, assert_nothing_lost, produced, wait_until

pytestmark = pytest.mark.slow  # whole fleets with brokers, fleets and agents stopped and killed

OUTAGE_S = 6


def _flowing(fleet: LocalFleet) -> None:
    """Wait until each device has delivered something."""
    for device in fleet.devices:
        wait_until(partial(api, fleet, f"/devices/{device}/readings?limit=1"), 60, device)


def test_broker_stopped_for_a_while(
    make_fleet: Callable[..., LocalFleet], database_url: str
) -> None:
    fleet = make_fleet(database_url)
    _flowing(fleet)
    assert fleet.broker is not None
    fleet.broker.stop()
    time.sleep(OUTAGE_S)  # agents keep reading sensors into their outboxes
    fleet.broker.start()
    assert_nothing_lost(fleet, database_url)


def test_fleet_stopped_for_a_while(
    make_fleet: Callable[..., LocalFleet], database_url: str
) -> None:
    fleet = make_fleet(database_url)
    _flowing(fleet)
    fleet.stop_fleet()
    time.sleep(OUTAGE_S)
    fleet.start_fleet()
    assert_nothing_lost(fleet, database_url)


def test_agent_killed_mid_stream_and_restarted(
    make_fleet: Callable[..., LocalFleet], database_url: str
) -> None:
    fleet = make_fleet(database_url, sensor_interval_s=0.2)
    _flowing(fleet)
    fleet.stop_agent("field-01", kill=True)  # SIGKILL, as a power cut
    boots_before = produced(fleet, "field-01")
    fleet.start_agent("field-01")
    # Within one power-on the boot id stays (the kernel's); seqs continue where they stopped.
    wait_until(
        lambda: sum(produced(fleet, "field-01").values()) > sum(boots_before.values()) + 10,
        30,
        "the restarted agent to produce more",
    )
    assert_nothing_lost(fleet, database_url)
