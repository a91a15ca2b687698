"""What every 422 of the API looks like: FastAPI's validation shape, whoever raised it."""

from __future__ import annotations

from typing import Any


def assert_invalid(response: Any, *loc: str | int) -> list[dict[str, Any]]:
    """The response is a 422 in the documented shape; with ``loc``, one error points there."""
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail, detail
    for error in detail:
        assert isinstance(error["loc"], list), error
        assert isinstance(error["msg"], str) and error["msg"], error
        assert isinstance(error["type"], str) and error["type"], error
    if loc:
        assert [e for e in detail if tuple(e["loc"]) == loc], (loc, detail)
    return detail
