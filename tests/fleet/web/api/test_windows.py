"""Every route with a time window, bucket, order, name or id specifies: values within the
documented bounds are served, anything outside them (times before 1970 or after 9999 in UTC,
Unix numbers instead of ISO 8601, an empty window, an oversize name or id) is a 422 in the
validation shape that names the parameter, on SQLite and PostgreSQL alike.

Every request here is a read, most refused before the database is asked, so the tests of one
dialect share one fleet (started once for the file) instead of migrating one each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.web.api.params import MAX_BUCKET_S, MAX_ID
from tests.fleet.conftest import FleetUnderTest, MigratedTemplates, running_fleet
from tests.fleet.web.api.shapes import assert_invalid

WINDOWED = [
    "/api/v1/devices/field-01/readings",
    "/api/v1/devices/field-01/events",
    "/api/v1/detections",
]
OUT_OF_RANGE = [
    "1969-12-31T23:59:59Z",  # before the epoch
    "10000-01-01T00:00:00Z",  # past what a datetime holds
    "9999-12-31T23:00:00-14:00",  # in range locally, after 9999 in UTC
    "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
    "1700000000",  # a Unix time: the API speaks ISO 8601 only
    "0.0",
    "yesterday",
]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def api(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    migrated_templates: MigratedTemplates,
) -> Iterator[FleetUnderTest]:
    """The fleet app without MQTT ingestion, one per dialect for this file's reads."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('windows') / 'fleet.db'}"
    else:
        url = migrated_templates.new_postgres_database(request.getfixturevalue("postgres"))
    if url.startswith("sqlite"):
        migrated_templates.fill(url)
    with running_fleet(FleetSettings(database_url=url)) as running:
        yield running


@pytest.fixture(scope="module")
def field_01(api: FleetUnderTest) -> FleetUnderTest:
    api.register("field-01")
    return api


@pytest.mark.parametrize("path", WINDOWED)
@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_a_time_out_of_range_is_422(
    field_01: FleetUnderTest, path: str, name: str, value: str
) -> None:
    response = field_01.client.get(path, params={name: value}, headers=field_01.viewer)
    assert_invalid(response, "query", name)


@pytest.mark.parametrize("path", WINDOWED)
def test_the_whole_range_is_a_valid_window(field_01: FleetUnderTest, path: str) -> None:
    assert field_01.get(path, since="1970-01-01T00:00:00Z", until="9999-12-31T23:59:59Z") == []
    assert field_01.get(path, since="1970-01-01T00:00:00") == []  # no zone: UTC
    assert field_01.get(path, since="1970-01-01T01:00:00+01:00") == []


@pytest.mark.parametrize("path", WINDOWED)
@pytest.mark.parametrize("until", ["2026-06-01T14:00:00+02:00", "2026-06-01T11:00:00Z"])
def test_until_at_or_before_since_is_an_empty_window(field_01: FleetUnderTest, path: str,
                                                     until: str) -> None:
    # The schema cannot order two parameters, so a generated client may send this: it is
    # valid, and nothing is in it (not a 422).
    assert field_01.get(path, since="2026-06-01T12:00:00Z", until=until) == []


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ({"bucket": "0"}, "bucket"),
        ({"bucket": str(MAX_BUCKET_S + 1)}, "bucket"),
        ({"order": "sideways"}, "order"),
        ({"sensor": "s" * 65}, "sensor"),
        ({"quantity": "moist\x00ure"}, "quantity"),
        ({"limit": "0"}, "limit"),
        ({"sensr": "soil"}, "sensr"),  # a typo would otherwise filter nothing
    ],
)
def test_bad_reading_parameters_are_422(
    field_01: FleetUnderTest, query: dict[str, str], name: str
) -> None:
    response = field_01.client.get(WINDOWED[0], params=query, headers=field_01.viewer)
    assert_invalid(response, "query", name)


def test_the_largest_bucket_is_served(field_01: FleetUnderTest) -> None:
    assert field_01.get(WINDOWED[0], bucket=MAX_BUCKET_S) == []


@pytest.mark.parametrize("query", [{"severity": "panic"}, {"severity": ""}])
def test_an_unknown_severity_is_422(field_01: FleetUnderTest, query: dict[str, str]) -> None:
    response = field_01.client.get(WINDOWED[1], params=query, headers=field_01.viewer)
    assert_invalid(response, "query", "severity")


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ({"device": "a/b"}, "device"),
        ({"device": "d" * 65}, "device"),
        ({"label": "l" * 129}, "label"),
    ],
)
def test_bad_detection_filters_are_422(
    api: FleetUnderTest, query: dict[str, str], name: str
) -> None:
    response = api.client.get("/api/v1/detections", params=query, headers=api.viewer)
    assert_invalid(response, "query", name)


@pytest.mark.parametrize("detection_id", ["0", str(MAX_ID + 1), "-1", "abc"])
@pytest.mark.parametrize("suffix", ["", "/image"])
def test_a_detection_id_out_of_range_is_422(
    api: FleetUnderTest, detection_id: str, suffix: str
) -> None:
    response = api.client.get(f"/api/v1/detections/{detection_id}{suffix}", headers=api.viewer)
    assert_invalid(response, "path", "detection_id")


def test_the_largest_detection_id_is_a_404(api: FleetUnderTest) -> None:
    response = api.client.get(f"/api/v1/detections/{MAX_ID}", headers=api.viewer)
    assert response.status_code == 404
    assert response.json() == {"detail": f"no detection {MAX_ID}"}


@pytest.mark.parametrize("device_id", ["x" * 65, "bad%00id", "-leading-dash"])
def test_a_device_id_out_of_pattern_is_422(api: FleetUnderTest, device_id: str) -> None:
    response = api.client.get(f"/api/v1/devices/{device_id}/readings", headers=api.viewer)
    assert_invalid(response, "path", "device_id")
