"""The farm managers' dashboard, served by the fleet at ``/`` (see docs/dashboard.md)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"


def add_routes(router: APIRouter) -> None:
    """The pages, their static files and the API documentation pages."""
    from agrifleet.fleet.web.dashboard import apidocs, pages, sign_ins

    router.mount("/static", StaticFiles(directory=STATIC), name="static")
    router.include_router(apidocs.router)
    router.include_router(pages.router)
    router.include_router(sign_ins.router)


def install(app: FastAPI) -> None:
    """A page asked for without a sign-in goes to the sign-in page, then back to that page."""
    from agrifleet.fleet.web.dashboard import pages

    @app.exception_handler(pages.SignInNeeded)
    async def _sign_in(request: Request, exc: pages.SignInNeeded) -> RedirectResponse:
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(exc.target, safe='/')}", status_code=303)
