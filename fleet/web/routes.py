"""Every route the fleet serves, in the order requests are matched: ``/healthz``, ``/metrics``,
the API under ``/api/v1``, then the dashboard (:mod:`fleet.web.dashboard`).

Assembled once per process and served by every app :func:`fleet.app.create_app` makes. FastAPI
builds an included router's routes (their parameters, response models and handlers) for each
inclusion, on their first requests: about 0.15 s of CPU for these hundred routes, spent again by
every app that included them (the test suite makes an app per test). A route holds nothing of an
app: a request finds its settings, database and workers in ``request.app.state``. So
``app.dependency_overrides`` does not reach them either; nothing here uses it.
"""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter
from starlette.routing import BaseRoute


@cache
def web_routes() -> tuple[BaseRoute, ...]:
    from agrifleet.fleet.web import dashboard
    from agrifleet.fleet.web.api.main import api_router
    from agrifleet.fleet.web.api.routes import auth, enrolment, health, metrics, registry

    router = APIRouter()
    router.include_router(health.router)
    router.include_router(metrics.router)
    router.include_router(api_router, prefix="/api/v1")
    router.include_router(registry.download_router, prefix="/api/v1")
    router.include_router(auth.login_router, prefix="/api/v1")
    router.include_router(enrolment.public_router, prefix="/api/v1")
    dashboard.add_routes(router)
    return tuple(router.routes)
