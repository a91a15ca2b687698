"""``/api/v1/devices`` specifies: limit and offset within their documented bounds on both
databases (offset up to 2^31-1), a device body refused when a database could not hold it or it
is not JSON text, unknown query parameters refused, each refusal a 422 in the validation shape;
a body over 16 KiB is a 413 before anything else, whoever sends it; a farm or field id must be
a number, never true/false; a taken device id gets the same 409 whichever farm holds it."""

from __future__ import annotations

import pytest

from agrifleet.fleet.web.api.params import MAX_BODY_BYTES, MAX_LIMIT, MAX_OFFSET
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.people.auth.people import add_farm, add_user, bearer, personal_token
from tests.fleet.web.api.shapes import assert_invalid

DEVICES = "/api/v1/devices"


@pytest.mark.parametrize(
    "offset", ["99999999999999999999", str(2**63), str(MAX_OFFSET + 1), "-1", "1e3", "abc", ""]
)
def test_an_offset_out_of_range_is_422(api: FleetUnderTest, offset: str) -> None:
    response = api.client.get(DEVICES, params={"offset": offset}, headers=api.viewer)
    assert_invalid(response, "query", "offset")


@pytest.mark.parametrize("limit", ["0", "-1", str(MAX_LIMIT + 1), "1.5"])
def test_a_limit_out_of_range_is_422(api: FleetUnderTest, limit: str) -> None:
    response = api.client.get(DEVICES, params={"limit": limit}, headers=api.viewer)
    assert_invalid(response, "query", "limit")


def test_the_largest_offset_and_limit_are_served(api: FleetUnderTest) -> None:
    api.register("field-01")
    assert api.get(DEVICES, offset=MAX_OFFSET, limit=MAX_LIMIT) == []
    assert [d["id"] for d in api.get(DEVICES, offset=0, limit=1)] == ["field-01"]


def test_an_unknown_query_parameter_is_422_naming_the_known_ones(api: FleetUnderTest) -> None:
    response = api.client.get(f"{DEVICES}?ofset=5&limit=2", headers=api.viewer)
    [error] = assert_invalid(response, "query", "ofset")
    assert "limit, offset" in error["msg"]
    assert_invalid(api.client.get(f"{DEVICES}?=1", headers=api.viewer), "query", "")


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (b'{"id": "field-02", "name": "a\\u0000b"}', ("body", "name")),  # PostgreSQL: no NUL
        (b'{"id": "field-02", "name": "\\ud800"}', ("body", "name")),  # a lone surrogate
        (b'{"id": "field-02", "name": "' + b"n" * 129 + b'"}', ("body", "name")),
        (b'{"id": "field-02", "name": "\xff"}', ("body",)),  # not UTF-8
        (b'{"id": "field-02", ', ("body", 19)),  # cut short
        (b'{"id": "fleet"}', ("body", "id")),  # the fleet's own broker user
    ],
    ids=["nul", "surrogate", "too-long", "not-utf8", "cut-short", "fleet-user"],
)
def test_a_body_no_database_could_hold_is_422_and_nothing_is_stored(
    api: FleetUnderTest, body: bytes, loc: tuple[str | int, ...]
) -> None:
    headers = {**api.admin, "Content-Type": "application/json"}
    response = api.client.post(DEVICES, content=body, headers=headers)
    assert_invalid(response, *loc)
    assert api.get(DEVICES) == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("who", ["admin", "stranger"])
def test_a_body_over_the_limit_is_413_and_nothing_is_stored(
    api: FleetUnderTest, chunked: bool, who: str
) -> None:
    body = b'{"id": "field-02", "name": "' + b" " * MAX_BODY_BYTES + b'"}'
    headers = {"Content-Type": "application/json", **(api.admin if who == "admin" else {})}
    content = iter([body]) if chunked else body
    response = api.client.post(DEVICES, content=content, headers=headers)
    assert response.status_code == 413
    assert "Content Too Large" in response.text
    assert api.get(DEVICES) == []


@pytest.mark.parametrize("field_id", [False, True])
def test_a_boolean_field_id_is_422(api: FleetUnderTest, field_id: object) -> None:
    api.register("field-03")
    response = api.client.patch(f"{DEVICES}/field-03", json={"field_id": field_id},
                                headers=api.admin)
    assert_invalid(response, "body", "field_id")
    created = api.client.post(DEVICES, json={"id": "field-04", "field_id": field_id},
                              headers=api.admin)
    assert_invalid(created, "body", "field_id")


def test_a_taken_id_gets_the_same_answer_whichever_farm_holds_it(api: FleetUnderTest) -> None:
    engine = api.app.state.engine
    alpha, bravo = add_farm(engine, "Alpha"), add_farm(engine, "Bravo")
    _, secret = personal_token(engine, add_user(engine, "t@alpha.example",
                                                {alpha: "technician"}))
    tech = bearer(secret)
    mine = api.client.post(DEVICES, json={"id": "dev-alpha", "farm_id": alpha}, headers=tech)
    assert mine.status_code == 201, mine.text
    api.client.post(DEVICES, json={"id": "dev-bravo", "farm_id": bravo}, headers=api.admin)
    own = api.client.post(DEVICES, json={"id": "dev-alpha", "farm_id": alpha}, headers=tech)
    foreign = api.client.post(DEVICES, json={"id": "dev-bravo", "farm_id": alpha}, headers=tech)
    assert own.status_code == foreign.status_code == 409
    assert (own.json()["detail"].replace("dev-alpha", "X")
            == foreign.json()["detail"].replace("dev-bravo", "X"))
    assert "Bravo" not in foreign.text and str(bravo) not in foreign.json()["detail"]
