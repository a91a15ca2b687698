"""Parameters several routes share, each with the bounds the OpenAPI document states.

Bounds are what both databases hold: an offset fits a 32-bit integer, a time lies between
:data:`EARLIEST` and :data:`LATEST` (UTC), text has no NUL character and fits its column.
A value out of bounds is a 422 in FastAPI's validation shape, never a database error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import AfterValidator, BeforeValidator

#: The time range the API accepts (UTC). Unsynced node clocks start at the epoch.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
MAX_LIMIT = 10_000
#: The largest offset both databases take as a plain integer (PostgreSQL's int4).
MAX_OFFSET = 2**31 - 1
MAX_BUCKET_S = 366 * 86400
#: Row ids: PostgreSQL's BIGINT, SQLite's 64-bit rowid.
MAX_ID = 2**63 - 1
#: A JSON body is read (before the token is checked) only up to this size.
MAX_BODY_BYTES = 16 * 1024
#: Text a database can compare against: no NUL character (PostgreSQL refuses those).
NO_NUL = r"^[^\x00]*$"

_RANGE = f"{EARLIEST:%Y-%m-%dT%H:%M:%SZ} to {LATEST:%Y-%m-%dT%H:%M:%SZ}"


def _in_range(moment: datetime) -> datetime:
    """The moment in UTC (no zone counts as UTC), or a ValueError naming the range."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-14:00 has no UTC datetime
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValueError(f"time out of range: use {_RANGE} (UTC)")
    return utc


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _not_a_number(value: Any) -> Any:
    """pydantic takes "1700000000" as a Unix time; the API documents ISO 8601 only."""
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        raise ValueError("expected an ISO 8601 time such as 2026-06-01T12:00:00Z")
    return value


Moment = Annotated[datetime, BeforeValidator(_not_a_number), AfterValidator(_in_range)]
#: JSON Schema has no minimum for strings; formatMinimum/formatMaximum say it (ajv's words),
#: and the pattern says the years (1970-9999) to clients that read only standard keywords.
#: Only a zone offset within 14 hours of either end can still make a time out of range.
_TIME_BOUNDS: dict[str, Any] = {
    "formatMinimum": f"{EARLIEST:%Y-%m-%dT%H:%M:%SZ}",
    "formatMaximum": f"{LATEST:%Y-%m-%dT%H:%M:%SZ}",
    "pattern": r"^(19[7-9][0-9]|[2-9][0-9]{3})-",
}

Since = Annotated[
    Moment | None,
    Query(
        description=f"Only items at or after this time (ISO 8601; UTC if no zone; {_RANGE})",
        json_schema_extra=_TIME_BOUNDS,
    ),
]
Until = Annotated[
    Moment | None,
    Query(
        description=f"Only items before this time (ISO 8601; UTC if no zone; {_RANGE})",
        json_schema_extra=_TIME_BOUNDS,
    ),
]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many rows")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Skip this many rows first")]


def name_query(max_length: int, description: str = "") -> Any:
    """A filter on a stored name (sensor, quantity, label)."""
    return Query(max_length=max_length, pattern=NO_NUL, description=description)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """``since`` (inclusive) and ``until`` (exclusive), both UTC, either may be open."""

    since: datetime | None
    until: datetime | None


def time_window(since: Since = None, until: Until = None) -> TimeWindow:
    """The window of ``since`` and ``until``. ``until`` at or before ``since`` is a valid,
    empty window (the schema cannot say one parameter must follow another, so a generated
    client may send it): it holds nothing, and the answer is empty."""
    if since is not None and until is not None and until < since:
        until = since
    return TimeWindow(since, until)


Window = Annotated[TimeWindow, Depends(time_window)]
