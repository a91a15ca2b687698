"""Error responses: the shapes the OpenAPI document promises, and the handlers that keep them.

Every 422 has FastAPI's validation shape (``{"detail": [{"loc", "msg", "type", …}]}``), whether
pydantic found the fault or a route did; every other error is ``{"detail": "<reason>"}``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlmodel import SQLModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class Message(SQLModel):
    """An error's body: ``{"detail": …}``, as FastAPI's own errors have it."""

    detail: str


#: A route's documented answers besides its success.
Responses = dict[int | str, dict[str, Any]]
#: What any route can answer when the database is away.
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": Message, "description": "The database is unavailable; try again later"},
}
def too_large(limit: int) -> dict[int | str, dict[str, Any]]:
    """The 413 of a route that reads at most ``limit`` bytes of body."""
    return {413: {
        "model": Message,
        "description": f"The body is larger than {limit} bytes (read before the token: "
        "text/plain when its Content-Length says so, else JSON)",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }}


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {
        "model": Message,
        "description": "No `Authorization: Bearer <token>` header, or a token the fleet does "
        "not know",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string", "const": "Bearer"}}},
    },
    403: {"model": Message, "description": "The token's role may not do this (writes need admin)"},
    **UNAVAILABLE,
}


def validation_error(loc: Sequence[str | int], msg: str, value: Any) -> RequestValidationError:
    """A 422 in the shape pydantic's own errors have, for a check that spans parameters."""
    return RequestValidationError([{"type": "value_error", "loc": tuple(loc), "msg": msg,
                                    "input": value}])  # fmt: skip


def add_handlers(app: FastAPI) -> None:
    """422s that can always be written as JSON; database trouble as a 503 (unavailable) or a
    422 (a value it cannot hold)."""
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(InterfaceError, _database_unavailable)
    app.add_exception_handler(DataError, _database_refused)


async def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _encodable(jsonable_encoder(exc.errors()))
    return JSONResponse({"detail": errors}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == status.HTTP_400_BAD_REQUEST and isinstance(exc.__cause__, ValueError):
        # FastAPI's 400 for a body json.loads cannot decode (not UTF-8): as bad as bad JSON.
        return JSONResponse(
            {"detail": [{"type": "json_invalid", "loc": ["body"],
                         "msg": "the body is not JSON in UTF-8"}]},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )  # fmt: skip
    return await http_exception_handler(request, exc)


def _encodable(value: Any) -> Any:
    """``value`` with lone surrogates (JSON allows "\\ud800", UTF-8 does not) escaped."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list):
        return [_encodable(v) for v in value]
    if isinstance(value, dict):
        return {k: _encodable(v) for k, v in value.items()}
    return value


async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", type(exc).__name__)
    return JSONResponse(
        {"detail": "database unavailable, try again later"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
    )


async def _database_refused(_: Request, exc: Exception) -> JSONResponse:
    # The message of a DataError holds the statement's parameters: log only what went wrong.
    orig = getattr(exc, "orig", None) or exc
    log.warning("the database refused a value of a request: %s", type(orig).__name__)
    return JSONResponse(
        {"detail": [{"type": "value_error", "loc": [],
                     "msg": "the database cannot hold a value in this request"}]},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )  # fmt: skip
