"""The fleet app with its own data directory (photos on disk), and two farms of known data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agrifleet.fleet.settings import FleetSettings
from tests.fleet.conftest import FleetUnderTest, running_fleet
from tests.fleet.farmdata.data import FarmData, make_farm


@pytest.fixture
def farm_app(database_url: str, tmp_path: Path) -> Iterator[FleetUnderTest]:
    settings = FleetSettings(database_url=database_url, data_dir=tmp_path / "data",
                             alert_tick_s=3600)
    with running_fleet(settings) as fleet:
        yield fleet


@pytest.fixture
def two_farms(farm_app: FleetUnderTest) -> tuple[FarmData, FarmData]:
    return (make_farm(farm_app.app, "Trang trại Cầu Đất", "a", (40, 160, 60)),
            make_farm(farm_app.app, "云南咖啡园", "b", (160, 60, 40)))
