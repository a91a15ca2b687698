"""Schemathesis checks the OpenAPI document against a real server on SQLite and PostgreSQL:
for requests built from the schema (valid and invalid ones, a fixed seed, a bounded number per
operation) no response is a 500, each has a documented status, content type, headers and body,
and input outside the schema is refused; stored rows dated year 1 and 9999 are among the data."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fleet.app import create_app
from fleet.auth import create_token
from fleet.settings import FleetSettings
from tests.fleet.api.rows import seed
from tests.fleet.api.server import serving

EXAMPLES_PER_OPERATION = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
#: Requests on the seeded data, so the checks also see full answers and not only 404s.
SEEDED = [
    ("GET", "/api/v1/devices/{device_id}", {"device_id": "field-07"}, {}),
    ("GET", "/api/v1/devices/{device_id}/gaps", {"device_id": "field-07"}, {}),
    ("GET", "/api/v1/devices/{device_id}/readings", {"device_id": "field-07"}, {"order": "asc"}),
    ("GET", "/api/v1/devices/{device_id}/readings", {"device_id": "field-07"}, {"bucket": 7}),
    ("GET", "/api/v1/devices/{device_id}/events", {"device_id": "field-07"}, {}),
    ("GET", "/api/v1/detections/{detection_id}", {"detection_id": 1}, {}),
    ("GET", "/api/v1/detections/{detection_id}/image", {"detection_id": 1}, {}),
]


@pytest.fixture
def served(database_url: str) -> Iterator[tuple[Any, dict[str, str]]]:
    """The schema as a client gets it from a running server, with an admin token for calls."""
    app = create_app(FleetSettings(database_url=database_url))
    with serving(app) as base:
        seed(app)
        token = create_token(app.state.engine, "admin")
        loaded = schemathesis.openapi.from_url(f"{base}/openapi.json")
        auth = {"Authorization": f"Bearer {token}"}
        loaded.config.update(base_url=base, headers=auth)
        yield loaded, auth


def _generated(operation: Any, mode: GenerationMode, session: requests.Session,
               statuses: Counter[int]) -> None:  # fmt: skip
    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None,
              deadline=None, suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        statuses[case.call_and_validate(session=session, checks=CHECKS).status_code] += 1

    check()


def _has_inputs(operation: Any) -> bool:
    """Something to make invalid besides the token (which the run always sends right)."""
    return operation.body or any(p.location != "header" for p in operation.iter_parameters())


def test_every_operation_holds_to_its_documentation(served: tuple[Any, dict[str, str]]) -> None:
    schema, auth = served
    session = requests.Session()
    failures: list[str] = []
    statuses: dict[str, Counter[int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        seen = statuses[operation.label] = Counter()
        modes = [GenerationMode.POSITIVE]
        if _has_inputs(operation):
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            try:
                _generated(operation, mode, session, seen)
            except Exception as exc:  # collect every operation's failure, then report them all
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    for method, path, path_parameters, query in SEEDED:
        case = schema[path][method].Case(path_parameters=path_parameters, query=query)
        response = case.call_and_validate(session=session, headers=auth, checks=CHECKS)
        assert response.status_code == 200, (path, query, response.text)
    assert not failures, "\n\n".join(failures)
    # The token was sent and taken: every operation answered something but 401.
    assert all(set(seen) - {401} for seen in statuses.values()), statuses
    assert statuses["POST /api/v1/devices"][201] > 0, statuses
