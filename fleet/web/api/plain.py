"""JSON responses built from plain query rows, written exactly as pydantic writes the models."""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic_core import to_json


def as_json(rows: Any) -> Response:
    """Rows as JSON: UTC times with Z, bytes as UTF-8, infinities and NaN as null."""
    return Response(to_json(rows, inf_nan_mode="null"), media_type="application/json")
