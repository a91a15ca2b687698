"""Query parameters several routes share: a time window and a row limit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import HTTPException, Query, status

Since = Annotated[
    datetime | None,
    Query(description="Only items at or after this time (ISO 8601; UTC if no zone)"),
]
Until = Annotated[
    datetime | None, Query(description="Only items before this time (ISO 8601; UTC if no zone)")
]
Limit = Annotated[int, Query(ge=1, le=10_000, description="At most this many rows")]


def check_window(since: datetime | None, until: datetime | None) -> None:
    """422 when the window is empty by construction."""
    if since is None or until is None:
        return
    if _utc(since) >= _utc(until):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "since must be before until")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
