"""Fixtures shared by the whole suite: real services on free ports, started per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agrifleet.provisioning.dynsec import DynsecBroker, find_plugin
from tests.services import (
    Broker,
    Postgres,
    postgres_bindir,
    running_dynsec_mosquitto,
    running_mosquitto,
    running_postgres,
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with a test marked ``slow`` run first, the rest in their order.

    With ``--dist loadfile --no-loadscope-reorder`` (tests/run) each worker takes whole files in
    this order: the long ones start at once and the short ones fill the gaps, instead of one
    long file starting last and the other workers waiting for it.
    """
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A private Mosquitto with no anonymous access; devices get users via add_device()."""
    with running_mosquitto(tmp_path / "mosquitto") as b:
        yield b


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip the test cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"training data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A private PostgreSQL on a free port for the session; ``create_database()`` per test."""
    if postgres_bindir() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql")
    with running_postgres() as server:
        yield server


@pytest.fixture
def dynsec_broker(tmp_path: Path) -> Iterator[DynsecBroker]:
    """A private Mosquitto whose accounts live in the dynamic security plugin (fleet only)."""
    if find_plugin() is None:
        pytest.skip("mosquitto_dynamic_security.so not found (apt-get install mosquitto)")
    with running_dynsec_mosquitto(tmp_path / "mosquitto-dynsec") as b:
        yield b
