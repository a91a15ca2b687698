"""The farm managers' dashboard, served by the fleet at ``/`` (see docs/dashboard.md)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"


def install(app: FastAPI) -> None:
    """Mount the pages, their static files and the API documentation pages on ``app``."""
    from agrifleet.fleet.web.dashboard import apidocs, pages, sign_ins

    @app.exception_handler(pages.SignInNeeded)
    async def _sign_in(request: Request, exc: pages.SignInNeeded) -> RedirectResponse:
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(exc.target, safe='/')}", status_code=303)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(apidocs.router)
    app.include_router(pages.router)
    app.include_router(sign_ins.router)
