"""The OpenAPI document specifies the API's limits: every parameter and body field states its
bounds (minimum/maximum, maxLength, pattern, enum, the time range), every route behind a token
documents 401 and 403 with the error body's model, and every 422 has the validation shape."""

from __future__ import annotations

from typing import Any

import pytest

from agrifleet.fleet.app import create_app
from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.web.api.params import (
    EARLIEST,
    LATEST,
    MAX_BUCKET_S,
    MAX_ID,
    MAX_LIMIT,
    MAX_OFFSET,
)

MESSAGE = {"$ref": "#/components/schemas/Message"}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'fleet.db'}"
    return create_app(FleetSettings(database_url=url)).openapi()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in spec["paths"].items()
            for method, op in item.items()]  # fmt: skip


def _branch(schema: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of an optional parameter's schema, with the wrapper's keywords."""
    for option in schema.get("anyOf", []):
        if option.get("type") != "null":
            return {**schema, **option}
    return schema


def test_every_route_behind_a_token_documents_401_and_403(spec: dict[str, Any]) -> None:
    # Signing in is how one gets credentials; POST /api/v1/enrol is public: a node's one-time
    # code is its only credential.
    public = {"/healthz", "/api/v1/auth/login", "/api/v1/enrol"}
    protected = [(p, m, op) for p, m, op in _operations(spec) if p not in public]
    assert len(protected) >= 9
    for path, method, op in protected:
        assert op["security"] == [{"HTTPBearer": []}], (path, method)
        for status in ("401", "403"):
            response = op["responses"][status]
            assert response["content"]["application/json"]["schema"] == MESSAGE, (path, status)
            assert response["description"], (path, status)
        assert "WWW-Authenticate" in op["responses"]["401"]["headers"], path
    healthz = spec["paths"]["/healthz"]["get"]
    assert "401" not in healthz["responses"] and "security" not in healthz
    assert "security" not in spec["paths"]["/api/v1/auth/login"]["post"]


def test_every_422_has_the_validation_shape(spec: dict[str, Any]) -> None:
    for path, method, op in _operations(spec):
        if op.get("parameters") or op.get("requestBody"):
            schema = op["responses"]["422"]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/HTTPValidationError"}, (path, method)
    error = spec["components"]["schemas"]["ValidationError"]
    assert {"loc", "msg", "type"} <= set(error["required"])


def test_every_parameter_states_its_bounds(spec: dict[str, Any]) -> None:
    seen = 0
    for path, method, op in _operations(spec):
        for parameter in op.get("parameters", []):
            schema = _branch(parameter["schema"])
            where = (path, method, parameter["name"])
            assert parameter.get("description"), where
            if schema["type"] == "integer":
                assert "minimum" in schema and "maximum" in schema, where
            elif schema.get("format") == "date-time":
                assert schema["formatMinimum"] == f"{EARLIEST:%Y-%m-%dT%H:%M:%SZ}", where
                assert schema["formatMaximum"] == f"{LATEST:%Y-%m-%dT%H:%M:%SZ}", where
            else:
                assert "enum" in schema or ("maxLength" in schema and "pattern" in schema), where
            seen += 1
    assert seen >= 20


@pytest.mark.parametrize(
    ("path", "name", "minimum", "maximum"),
    [
        ("/api/v1/devices", "offset", 0, MAX_OFFSET),
        ("/api/v1/devices", "limit", 1, MAX_LIMIT),
        ("/api/v1/devices/{device_id}/readings", "bucket", 1, MAX_BUCKET_S),
        ("/api/v1/detections/{detection_id}", "detection_id", 1, MAX_ID),
    ],
)
def test_integer_bounds_are_the_enforced_ones(
    spec: dict[str, Any], path: str, name: str, minimum: int, maximum: int
) -> None:
    [parameter] = [p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == name]
    schema = _branch(parameter["schema"])
    assert (schema["minimum"], schema["maximum"]) == (minimum, maximum)


def test_the_device_body_states_its_bounds(spec: dict[str, Any]) -> None:
    too_large = spec["paths"]["/api/v1/devices"]["post"]["responses"]["413"]
    assert set(too_large["content"]) == {"application/json", "text/plain"}
    body = spec["components"]["schemas"]["DeviceCreate"]
    assert body["additionalProperties"] is False
    assert body["properties"]["id"]["pattern"] == "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
    assert body["properties"]["name"]["maxLength"] == 128
    assert body["properties"]["name"]["pattern"] == "^[^\\x00]*$"
