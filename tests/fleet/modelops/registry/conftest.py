"""Registry fixtures: a fleet trusting a test key, with a technician token and a temp data_dir."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest

from agrifleet.fleet.people.auth import create_token
from agrifleet.fleet.settings import FleetSettings
from tests.fleet.conftest import FleetUnderTest, MigratedTemplates, running_fleet
from tests.fleet.modelops.registry.packages import keypair


@dataclass
class Keys:
    key: Path
    pub: Path
    other_key: Path
    other_pub: Path


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """The key the fleet trusts, and another one it does not."""
    trusted = keypair(tmp_path_factory.mktemp("trusted"))
    other = keypair(tmp_path_factory.mktemp("other"))
    return Keys(trusted[0], trusted[1], other[0], other[1])


@dataclass
class Registry:
    fleet: FleetUnderTest
    technician: dict[str, str]
    data_dir: Path

    def publish(self, archive: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.fleet.client.post(
            "/api/v1/models", content=archive,
            headers={**(self.technician if headers is None else headers),
                     "Content-Type": "application/gzip"},
        )


@pytest.fixture
def registry(
    tmp_path: Path, keys: Keys, migrated_templates: MigratedTemplates
) -> Iterator[Registry]:
    """The fleet on SQLite (package checks are costly: one database kind is enough)."""
    migrated_templates.fill(f"sqlite:///{tmp_path / 'fleet.db'}")
    settings = FleetSettings(database_url=f"sqlite:///{tmp_path / 'fleet.db'}",
                             data_dir=tmp_path / "data", model_keys=(keys.pub,),
                             public_url="http://fleet.example:8000")
    with running_fleet(settings) as fleet:
        token = create_token(fleet.app.state.engine, "technician", "tess")
        yield Registry(fleet, {"Authorization": f"Bearer {token}"}, tmp_path / "data")
