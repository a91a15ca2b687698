"""The fleet's routes are built once per process and every app serves them: two apps in one
process share the route objects, and each still answers from its own settings and database."""

from __future__ import annotations

from pathlib import Path

from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.web.routes import web_routes
from tests.fleet.conftest import MigratedTemplates, running_fleet


def test_two_apps_serve_the_same_routes_each_from_its_own_database(
    tmp_path: Path, migrated_templates: MigratedTemplates
) -> None:
    urls = [f"sqlite:///{tmp_path / name}.db" for name in ("north", "south")]
    for url in urls:
        migrated_templates.fill(url)
    with running_fleet(FleetSettings(database_url=urls[0], data_dir=tmp_path / "n")) as north, \
            running_fleet(FleetSettings(database_url=urls[1], data_dir=tmp_path / "s")) as south:
        for fleet in (north, south):
            assert [r for r in fleet.app.router.routes if r in web_routes()] == list(web_routes())
        north.register("field-north")
        south.register("field-south")
        assert [d["id"] for d in north.get("/api/v1/devices")] == ["field-north"]
        assert [d["id"] for d in south.get("/api/v1/devices")] == ["field-south"]
        # a token is known to the app whose database holds it, and to no other
        response = south.client.get("/api/v1/devices", headers=north.viewer)
        assert response.status_code == 401
        assert north.app.openapi() == south.app.openapi()
