"""``/docs`` (Swagger UI) and ``/redoc`` with the fleet's own copies of their scripts: no CDN."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

_SWAGGER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>agrifleet fleet API</title>
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
</head><body><main id="swagger-ui"></main>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/apidocs.js"></script>
</body></html>
"""

_REDOC = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>agrifleet fleet API</title>
</head><body><redoc spec-url="/openapi.json"></redoc>
<script src="/static/vendor/redoc/redoc.standalone.js"></script>
</body></html>
"""


@router.get("/docs")
def swagger() -> HTMLResponse:
    return HTMLResponse(_SWAGGER)


@router.get("/redoc")
def redoc() -> HTMLResponse:
    return HTMLResponse(_REDOC)
