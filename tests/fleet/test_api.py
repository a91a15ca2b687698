"""The REST API specifies: tokens and roles on every route but /healthz, clear 4xx for bad
requests, device registration, and OpenAPI that documents every route."""

from __future__ import annotations

import pytest

from tests.fleet.conftest import FleetUnderTest


def test_healthz_needs_no_token(api: FleetUnderTest) -> None:
    response = api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "path", ["/api/v1/devices", "/api/v1/devices/x", "/api/v1/detections", "/metrics"]
)
def test_routes_need_a_token(api: FleetUnderTest, path: str) -> None:
    missing = api.client.get(path)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = api.client.get(path, headers={"Authorization": "Bearer agf_not-a-real-token"})
    assert wrong.status_code == 401
    basic = api.client.get(path, headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert basic.status_code == 401


def test_viewer_reads_but_cannot_register(api: FleetUnderTest) -> None:
    denied = api.client.post("/api/v1/devices", headers=api.viewer, json={"id": "field-01"})
    assert denied.status_code == 403
    assert "technician" in denied.json()["detail"]
    assert api.get("/api/v1/devices") == []


def test_register_and_list_devices(api: FleetUnderTest) -> None:
    api.register("field-01", "North field")
    api.register("field-00")
    devices = api.get("/api/v1/devices")
    assert [d["id"] for d in devices] == ["field-00", "field-01"]
    assert devices[1]["name"] == "North field"
    assert devices[1]["online"] is False and devices[1]["position"] is None
    again = api.client.post("/api/v1/devices", headers=api.admin, json={"id": "field-01"})
    assert again.status_code == 409
    detail = api.get("/api/v1/devices/field-01")
    assert detail["latest"] == [] and detail["gaps"]["missing"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"id": "a/b"},
        {"id": ""},
        {"id": "x" * 65},
        {"name": "no id"},
        {"id": 5},
        {"id": "ok", "x": 1},
    ],
)
def test_bad_device_bodies_are_422(api: FleetUnderTest, body: dict) -> None:
    response = api.client.post("/api/v1/devices", headers=api.admin, json=body)
    assert response.status_code == 422, response.text


def test_unknown_things_are_404(api: FleetUnderTest) -> None:
    for path in (
        "/api/v1/devices/nope",
        "/api/v1/devices/nope/readings",
        "/api/v1/devices/nope/gaps",
        "/api/v1/devices/nope/events",
        "/api/v1/detections/12345",
        "/api/v1/detections/12345/image",
    ):
        assert api.client.get(path, headers=api.viewer).status_code == 404, path


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=100000",
        "bucket=0",
        "bucket=abc",
        "since=yesterday",
        "order=sideways",
        "sensor=soil%00",
        "quantity=" + "q" * 65,
        "since=9999-12-31T23:59:59-14:00",
        "until=0001-01-01T00:00:00%2B14:00",
    ],
)
def test_bad_reading_queries_are_422(api: FleetUnderTest, query: str) -> None:
    api.register("field-01")
    response = api.client.get(f"/api/v1/devices/field-01/readings?{query}", headers=api.viewer)
    assert response.status_code == 422, response.text


def test_until_before_since_is_an_empty_window(api: FleetUnderTest) -> None:
    api.register("field-01")
    response = api.client.get("/api/v1/devices/field-01/readings?since=2026-06-02T00:00:00Z"
                              "&until=2026-06-01T00:00:00Z", headers=api.viewer)
    assert response.status_code == 200, response.text
    assert response.json() == []


def test_bad_detection_ids_are_422(api: FleetUnderTest) -> None:
    for bad in ("abc", "0", str(2**64)):
        response = api.client.get(f"/api/v1/detections/{bad}", headers=api.viewer)
        assert response.status_code == 422, bad


def test_openapi_documents_every_route(api: FleetUnderTest) -> None:
    spec = api.client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/v1/devices",
        "/api/v1/devices/{device_id}",
        "/api/v1/devices/{device_id}/readings",
        "/api/v1/devices/{device_id}/gaps",
        "/api/v1/devices/{device_id}/events",
        "/api/v1/detections",
        "/api/v1/detections/{detection_id}",
        "/api/v1/detections/{detection_id}/image",
        "/metrics",
        "/healthz",
    ):
        assert path in paths, path
        for operation in paths[path].values():
            assert operation.get("summary"), path
            assert "200" in operation["responses"] or "201" in operation["responses"]
    schemas = spec["components"]["schemas"]
    assert {
        "DevicePublic",
        "DeviceDetail",
        "ReadingPublic",
        "ReadingBucket",
        "DetectionPublic",
        "EventPublic",
        "BootGaps",
    } <= set(schemas)
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    image = paths["/api/v1/detections/{detection_id}/image"]["get"]["responses"]["200"]
    assert "image/jpeg" in image["content"]


def test_values_a_database_cannot_hold_are_4xx_not_500(api: FleetUnderTest) -> None:
    for path in (
        "/api/v1/devices/bad%00id",
        "/api/v1/devices/" + "x" * 65,
        "/api/v1/detections?device=a%00b",
        "/api/v1/detections?label=a%00b",
    ):
        response = api.client.get(path, headers=api.viewer)
        assert response.status_code == 422, (path, response.text)
