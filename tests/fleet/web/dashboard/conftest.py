"""Browser fixtures: Debian's chromium driven by Playwright (never a downloaded browser),
axe-core from the npm registry (tests/run installs it into .cache/npm), and the fleet served by
uvicorn on a free port with MQTT, a published model and the demo farm of :mod:`.farm`."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from agrifleet.fleet.app import create_app
from agrifleet.fleet.people.auth import create_token
from agrifleet.fleet.settings import FleetSettings
from tests.fleet.conftest import MigratedTemplates
from tests.fleet.modelops.registry.conftest import Keys, keys  # noqa: F401 - the session fixture
from tests.fleet.modelops.registry.packages import archive, package_dir
from tests.fleet.web.api.server import serving
from tests.fleet.web.dashboard.farm import TECHNICIAN, VIEWER, Seeded, seed
from tests.services import Broker

ROOT = Path(__file__).resolve().parents[4]
AXE = ROOT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = ("/usr/bin/chromium", "/usr/lib/chromium/chromium", "/usr/bin/chromium-browser")


def find_chromium() -> str | None:
    for path in CHROMIUM:
        if Path(path).is_file():
            return path
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    path = find_chromium()
    if path is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); the tests "
                    "never download a browser")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"axe-core is missing at {AXE}: tests/run installs it "
                    "(npm install --no-save --prefix .cache/npm axe-core@4)")
    return AXE.read_text(encoding="utf-8")


@dataclass
class Site:
    url: str
    app: Any
    seeded: Seeded
    technician_token: str

    def login(self, page: Any, who: tuple[str, str] = VIEWER, lang: str | None = None) -> None:
        page.goto(self.url + "/login" + (f"?lang={lang}" if lang else ""))
        page.fill("#email", who[0])
        page.fill("#password", who[1])
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_url(self.url + "/")


@pytest.fixture
def site(tmp_path: Path, broker: Broker, keys: Keys,  # noqa: F811
         migrated_templates: MigratedTemplates) -> Iterator[Site]:
    migrated_templates.fill(f"sqlite:///{tmp_path / 'fleet.db'}")
    settings = FleetSettings(
        database_url=f"sqlite:///{tmp_path / 'fleet.db'}", mqtt_url=broker.fleet_url,
        mqtt_client_id=f"fleet-{secrets.token_hex(4)}", data_dir=tmp_path / "data",
        model_keys=(keys.pub,), public_url="http://127.0.0.1:9", rollout_tick_s=60)
    app = create_app(settings)
    with serving(app) as url:
        seeded = seed(app)
        token = create_token(app.state.engine, "technician", "publisher")
        package = archive(package_dir(tmp_path / "pkg", "1.2.0", keys.key))
        response = httpx.post(url + "/api/v1/models", content=package, timeout=60,
                              headers={"Authorization": f"Bearer {token}",
                                       "Content-Type": "application/gzip"})
        assert response.status_code == 201, response.text
        yield Site(url, app, seeded, token)


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-US")
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def technician() -> tuple[str, str]:
    return TECHNICIAN
