"""``create_app(settings)``: the fleet service's composition root.

Data flow: MQTT → :class:`~fleet.telemetry.ingest.Ingestor` (network thread enqueues) →
:class:`~fleet.telemetry.writer.Writer` (checks, stores in bulk, acks after commit) → database →
REST routes in :mod:`fleet.web.api` and ``/metrics``. Model updates: packages published to
:mod:`fleet.modelops.registry` → :class:`~fleet.modelops.rollouts.engine.RolloutEngine` (reads
nodes' update
reports, publishes retained offers through the ingestor's MQTT client) → package download.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from agrifleet import __version__, images
from agrifleet.fleet import logs
from agrifleet.fleet.alerts.delivery.worker import DeliveryWorker
from agrifleet.fleet.alerts.evaluate import AlertEvaluator
from agrifleet.fleet.db import make_engine
from agrifleet.fleet.farmdata.policy import defaults_of
from agrifleet.fleet.farmdata.retention import Pruner
from agrifleet.fleet.metrics import Metrics
from agrifleet.fleet.migrate import upgrade
from agrifleet.fleet.modelops.registry.downloads import DownloadCounters
from agrifleet.fleet.modelops.registry.storage import PackageStore
from agrifleet.fleet.modelops.rollouts.engine import RolloutEngine
from agrifleet.fleet.modelops.scouting import Scout
from agrifleet.fleet.settings import FleetSettings, load_settings
from agrifleet.fleet.telemetry.ingest import Ingestor
from agrifleet.fleet.web import dashboard
from agrifleet.fleet.web.api.allow import AllowEveryMethod
from agrifleet.fleet.web.api.errors import add_handlers
from agrifleet.fleet.web.api.headers import SecurityHeaders
from agrifleet.fleet.web.routes import web_routes

log = logging.getLogger(__name__)

DESCRIPTION = """\
Fleet manager for agrifleet field nodes: devices, their readings (raw or downsampled),
crop-disease detections with thumbnails, events, and which sequence numbers never arrived.

Every route except `/healthz` and `/api/v1/auth/login` needs `Authorization: Bearer <token>`
(a service token from `agrifleet fleet create-token --role admin|technician|viewer`, or a
personal token from `POST /api/v1/tokens`) or the dashboard's session cookie (with the
`X-CSRF-Token` header on writes). Users see only their farms' devices and data.
"""


def create_app(settings: FleetSettings | None = None, *, ingest: bool = True) -> FastAPI:
    """The FastAPI app; starting it migrates the database and starts MQTT ingestion.

    ``ingest=False`` (``agrifleet fleet serve --api-only``): ingest workers store the devices'
    messages; this process serves the API and runs the rollout engine, whose offers go out on
    a publish-only MQTT connection (:class:`fleet.telemetry.workers.Publisher`).
    """
    settings = settings if settings is not None else load_settings()
    engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await run_in_threadpool(upgrade, engine)
        if settings.mqtt_url is not None and not ingest:
            from agrifleet.fleet.telemetry.workers import Publisher

            app.state.publisher = Publisher(settings)
            app.state.publisher.start()
            app.state.rollouts = RolloutEngine(settings, engine, app.state.publisher.publish)
            app.state.rollouts.start()
        elif settings.mqtt_url is not None:
            app.state.ingestor = Ingestor(settings, engine, app.state.metrics)
            app.state.ingestor.start()
            app.state.rollouts = RolloutEngine(settings, engine, app.state.ingestor.publish)
            app.state.rollouts.start()
        else:
            log.warning("AGRIFLEET_MQTT_URL is not set: serving the API without ingestion")
        PackageStore(settings.data_dir).clean_incoming()
        app.state.alerts = AlertEvaluator(settings, engine)
        app.state.alerts.start()
        app.state.delivery = DeliveryWorker(settings, engine)
        app.state.delivery.start()
        # Readings, photos and alerts by each farm's days (or the fleet's), and on PostgreSQL
        # the coming months' partitions.
        pruner = Pruner(engine, settings.retention_days, defaults=defaults_of(settings),
                        data_dir=settings.data_dir)
        pruner.start()
        try:
            yield
        finally:
            await run_in_threadpool(pruner.stop)
            if app.state.alerts is not None:
                await run_in_threadpool(app.state.alerts.stop)
                app.state.alerts = None
            if app.state.delivery is not None:
                await run_in_threadpool(app.state.delivery.stop)
                app.state.delivery = None
            if app.state.rollouts is not None:
                await run_in_threadpool(app.state.rollouts.stop)
                app.state.rollouts = None
            if app.state.ingestor is not None:
                await run_in_threadpool(app.state.ingestor.stop)
                app.state.ingestor = None
            if app.state.publisher is not None:
                await run_in_threadpool(app.state.publisher.stop)
                app.state.publisher = None
            engine.dispose()

    app = FastAPI(
        title="agrifleet fleet",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by fleet.web.dashboard with local assets: no CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.metrics = Metrics()
    app.state.ingestor = None
    app.state.rollouts = None
    app.state.publisher = None
    app.state.downloads = DownloadCounters()
    app.state.alerts = None
    app.state.delivery = None
    app.state.scout = Scout()
    app.state.photos = images.configure(settings.photo_limits())  # every decode in the process
    app.router.routes.extend(web_routes())  # built once per process
    dashboard.install(app)
    add_handlers(app)
    app.add_middleware(AllowEveryMethod)
    app.add_middleware(SecurityHeaders, map_tile_url=settings.map_tile_url)
    logs.redact_access_log()
    return app

