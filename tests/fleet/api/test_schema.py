"""Schemathesis checks the OpenAPI document against a real server on SQLite and PostgreSQL,
as an admin, a viewer and a stranger with an unknown token: for requests built from the schema
(valid and invalid ones, derandomized, a bounded number per operation) no response is a 500,
each has a documented status, content type, headers and body, input outside the schema is
refused, and the token decides first; stored rows dated year 1 and 9999 are among the data."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
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

#: Requests per operation and generation mode: the admin's run explores, the others confirm.
EXAMPLES = {"admin": 25, "viewer": 10, "stranger": 10}
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


@dataclass
class Run:
    """The schema as a client gets it from a running server, and the token every call sends."""

    schema: Any
    auth: dict[str, str]
    role: str
    session: requests.Session = field(default_factory=requests.Session)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)

    def generated(self, operation: Any, mode: GenerationMode) -> None:
        seen = self.statuses.setdefault(operation.label, Counter())

        @settings(max_examples=EXAMPLES[self.role], derandomize=True, database=None,
                  deadline=None, suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: Any) -> None:
            seen[case.call_and_validate(session=self.session, checks=CHECKS).status_code] += 1

        check()


@pytest.fixture(params=list(EXAMPLES))
def run(request: pytest.FixtureRequest, database_url: str) -> Iterator[Run]:
    """A served fleet with seeded data, and an admin's, a viewer's or an unknown token."""
    app = create_app(FleetSettings(database_url=database_url))
    with serving(app) as base:
        seed(app)
        role = request.param
        token = "agf_unknown" if role == "stranger" else create_token(app.state.engine, role)
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
        auth = {"Authorization": f"Bearer {token}"}
        schema.config.update(base_url=base, headers=auth)
        yield Run(schema, auth, role)


JSON_WRITES = {"PATCH /api/v1/devices/{device_id}", "POST /api/v1/rollouts",
               "POST /api/v1/rollouts/{rollout_id}/{action}", "POST /api/v1/farms",
               "PATCH /api/v1/farms/{farm_id}", "POST /api/v1/farms/{farm_id}/fields",
               "PATCH /api/v1/farms/{farm_id}/fields/{field_id}", "POST /api/v1/users",
               "POST /api/v1/memberships", "PATCH /api/v1/memberships/{user_id}/{farm_id}",
               "POST /api/v1/tokens", "POST /api/v1/farms/{farm_id}/invitations"}
#: People's own accounts: a service token sees no user, so a viewer's is a 404 (or 422).
SELF_SERVICE = {"PATCH /api/v1/users/{user_id}"}
#: Reads about people and the whole fleet: a service viewer is refused (403, or 422 first).
ADMIN_READS = {"GET /api/v1/users", "GET /api/v1/memberships", "GET /api/v1/tokens",
               "GET /api/v1/audit"}
#: Writes with a body that viewers may make too: JSON (verdict) and multipart (scouting).
ANY_ROLE_BODY = {"POST /api/v1/detections/{detection_id}/verdict", "POST /api/v1/observations"}
# Technicians' alert writes answer the same way.
JSON_WRITES |= {"POST /api/v1/alert-rules", "PATCH /api/v1/alert-rules/{rule_id}",
                "DELETE /api/v1/alert-rules/{rule_id}", "POST /api/v1/alerts/{alert_id}/clear"}


def _has_inputs(operation: Any) -> bool:
    """Something to make invalid besides the token (which the run always sends as given); an
    archive upload (application/octet-stream) has no invalid form in the schema."""
    binary = all(b.media_type == "application/octet-stream" for b in operation.body)
    return (operation.body and not binary) or any(
        p.location != "header" for p in operation.iter_parameters())


# About 50 operations since farms and people: more than the suite's 300 s on a busy machine.
@pytest.mark.timeout(1500)
def test_every_operation_holds_to_its_documentation(run: Run) -> None:
    failures: list[str] = []
    for result in run.schema.get_all_operations():
        operation = result.ok()
        modes = [GenerationMode.POSITIVE]
        if _has_inputs(operation):
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            try:
                run.generated(operation, mode)
            except Exception as exc:  # collect every operation's failure, then report them all
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
    statuses = {label: set(seen) for label, seen in run.statuses.items()}
    post = statuses.pop("POST /api/v1/devices")
    # A node enrols with its code alone, whatever token it sends: random codes are unknown
    # (401), and the route is rate-limited per address (429).
    enrol = statuses.pop("POST /api/v1/enrol")
    assert enrol <= {401, 422, 429} and 401 in enrol, enrol
    # Enrolment codes and revocation are the technician's: a viewer is refused before anything.
    for label in ("POST /api/v1/devices/{device_id}/enrolment-code",
                  "POST /api/v1/devices/{device_id}/revoke"):
        seen = statuses.pop(label)
        if run.role == "stranger":
            assert seen == {401}, (label, seen)
        elif run.role == "viewer":
            assert seen <= {403, 422} and 403 in seen, (label, seen)
        else:
            assert 404 in seen and not seen & {401, 403}, (label, seen)
    # The archive upload checks the role before it reads the body, and the package download
    # before its path: a viewer never uploads nor downloads.
    upload = statuses.pop("POST /api/v1/models")
    download = statuses.pop("GET /api/v1/models/{name}/{version}/package")
    if run.role in ("stranger", "viewer"):
        refused = {401} if run.role == "stranger" else {403}
        assert upload == refused and download == refused, (upload, download)
    else:
        assert upload <= {422} and 404 in download, (upload, download)
    # Signing in needs no token: wrong credentials, bad bodies, and throttling after that.
    login = statuses.pop("POST /api/v1/auth/login")
    assert 401 in login and login <= {200, 401, 422, 429}, login
    # The other writes with a JSON body (rollouts, PATCH devices) answer like POST /devices.
    writes = {label: statuses.pop(label) for label in list(statuses) if label in JSON_WRITES}
    own = {label: statuses.pop(label) for label in list(statuses) if label in SELF_SERVICE}
    reads = {label: statuses.pop(label) for label in list(statuses) if label in ADMIN_READS}
    if run.role == "stranger":
        assert all(401 in seen and seen <= {401, 422} for seen in own.values()), own
        assert all(seen == {401} for seen in reads.values()), reads
    elif run.role == "viewer":
        assert all(seen <= {404, 422} for seen in own.values()), own
        assert all(403 in seen and seen <= {403, 422} for seen in reads.values()), reads
    else:
        assert all(seen - {401, 403} for seen in (*own.values(), *reads.values())), (own, reads)
    # Bodies any role may send (a verdict, a scouting photo) are read before the token too.
    readable = {label: statuses.pop(label) for label in list(statuses) if label in ANY_ROLE_BODY}
    if run.role == "stranger":
        assert all(401 in seen and seen <= {400, 401, 422} for seen in readable.values()), readable
    else:
        assert all(seen - {401, 403} for seen in readable.values()), readable
    protected = {label: seen for label, seen in statuses.items() if label != "GET /healthz"}
    # FastAPI reads a body before any dependency: JSON it cannot parse is a 422 for anyone.
    if run.role == "stranger":
        assert 401 in post and post <= {401, 422}, statuses
        assert all(401 in seen and seen <= {401, 422} for seen in writes.values()), writes
        assert all(seen == {401} for seen in protected.values()), {
            label: seen for label, seen in protected.items() if seen != {401}}
    elif run.role == "viewer":
        assert 403 in post and post <= {403, 422}, statuses
        assert all(seen <= {403, 422} for seen in writes.values()), writes
        assert all(seen - {401, 403} for seen in protected.values()), statuses
    else:
        assert all(seen - {401, 403} for seen in protected.values()), statuses
        assert run.statuses["POST /api/v1/devices"][201] > 0, statuses


def test_seeded_answers_hold_to_their_documentation(run: Run) -> None:
    expected = 401 if run.role == "stranger" else 200
    for method, path, path_parameters, query in SEEDED:
        case = run.schema[path][method].Case(path_parameters=path_parameters, query=query)
        response = case.call_and_validate(session=run.session, headers=run.auth, checks=CHECKS)
        assert response.status_code == expected, (path, query, response.text)
