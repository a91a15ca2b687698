"""Parameters several routes share: a time window, a row limit, names and device ids."""

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
#: Text a database can compare against: no NUL character (PostgreSQL refuses those).
NO_NUL = r"^[^\x00]*$"


def name_query(max_length: int, description: str = "") -> object:
    """A filter on a stored name (sensor, quantity, label)."""
    return Query(max_length=max_length, pattern=NO_NUL, description=description)


def check_window(since: datetime | None, until: datetime | None) -> None:
    """422 when a bound is not a time the database can hold, or the window is empty."""
    for name, moment in (("since", since), ("until", until)):
        if moment is not None:
            try:
                _utc(moment).astimezone(UTC)
            except OverflowError:
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name} is out of range"
                ) from None
    if since is None or until is None:
        return
    if _utc(since) >= _utc(until):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "since must be before until")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
