"""Schemathesis checks the OpenAPI document against a real server on SQLite and PostgreSQL,
as an admin, a viewer and a stranger with an unknown token, with every check of ``st run
--checks all`` that applies to a single request, on a bounded budget (a few derandomized
requests per operation and mode): no response is a 500, each has a documented status, content
type, headers and body, input outside the schema is refused and input inside it accepted
(the cross-field rules are in the schema), and the token decides first; stored rows dated year
1 and 9999 are among the data. (A 405's ``Allow`` header: tests/fleet/web/api/test_allow.py.)"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS as REGISTRY
from schemathesis.checks import load_all_checks

from agrifleet.fleet.app import create_app
from agrifleet.fleet.people.auth import create_token
from agrifleet.fleet.settings import FleetSettings
from tests.fleet.web.api.rows import seed
from tests.fleet.web.api.server import serving

pytestmark = pytest.mark.slow  # schemathesis over every operation, as three callers

#: Requests per operation and generation mode: the admin's run explores, the others confirm.
#: Small on purpose: with ~66 operations the whole file stays well under two minutes.
EXAMPLES = {"admin": 5, "viewer": 2, "stranger": 2}
load_all_checks()
#: Every check ``--checks all`` runs (those of the coverage and stateful phases see nothing
#: to check in a single generated request and pass).
CHECKS = REGISTRY.get_all()
#: Operations whose schema-valid bodies are mostly refused for what they hold, which no schema
#: can say: a package must be signed by a trusted key, a photo must be an image. Every other
#: check still runs on them.
CONTENT_CHECKED = {"POST /api/v1/models", "POST /api/v1/observations",
                   # phases must rise and end at 100: no JSON Schema keyword orders array items
                   "POST /api/v1/rollouts",
                   # the farm's name typed again: the schema cannot know the farm's name
                   "POST /api/v1/farms/{farm_id}/erase",
                   # a time zone is one of the IANA names this machine knows, quiet hours HH:MM
                   "PUT /api/v1/notifications"}
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
    """The schema the running server serves, and the token every call sends."""

    schema: Any
    auth: dict[str, str]
    role: str
    session: requests.Session = field(default_factory=requests.Session)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)

    def generated(self, operation: Any, mode: GenerationMode) -> None:
        seen = self.statuses.setdefault(operation.label, Counter())

        checks = [c for c in CHECKS if operation.label not in CONTENT_CHECKED
                  or c.__name__ != "positive_data_acceptance"]

        @settings(max_examples=EXAMPLES[self.role], derandomize=True, database=None,
                  deadline=None, suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: Any) -> None:
            seen[case.call_and_validate(session=self.session, checks=checks).status_code] += 1

        check()


@pytest.fixture(params=list(EXAMPLES))
def run(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Run]:
    """A served fleet with seeded data, and an admin's, a viewer's or an unknown token.

    An unknown token is refused by one lookup before any route's query runs, so the stranger's
    run is made on SQLite only (validation without a dialect to tell apart)."""
    if request.param == "stranger" and not database_url.startswith("sqlite"):
        pytest.skip("a stranger is refused before any dialect matters: run on SQLite only")
    app = create_app(FleetSettings(database_url=database_url, data_dir=tmp_path / "data"))
    with serving(app) as base:
        seed(app)
        role = request.param
        token = "agf_unknown" if role == "stranger" else create_token(app.state.engine, role)
        # The document /openapi.json serves (built in-process: on a loaded machine building
        # it can outlast an HTTP client's timeout).
        schema = schemathesis.openapi.from_dict(app.openapi())
        auth = {"Authorization": f"Bearer {token}"}
        schema.config.update(base_url=base, headers=auth)
        yield Run(schema, auth, role)


JSON_WRITES = {"PATCH /api/v1/devices/{device_id}", "POST /api/v1/rollouts",
               "POST /api/v1/rollouts/{rollout_id}/{action}", "POST /api/v1/farms",
               "PATCH /api/v1/farms/{farm_id}", "POST /api/v1/farms/{farm_id}/fields",
               "PATCH /api/v1/farms/{farm_id}/fields/{field_id}", "POST /api/v1/users",
               "POST /api/v1/memberships", "PATCH /api/v1/memberships/{user_id}/{farm_id}",
               "POST /api/v1/tokens", "POST /api/v1/farms/{farm_id}/erase",
               "PATCH /api/v1/farms/{farm_id}/data-policy",
               "POST /api/v1/farms/{farm_id}/invitations"}
#: People's own accounts: a service token sees no user, so a viewer's is a 404 (or 422).
SELF_SERVICE = {"PATCH /api/v1/users/{user_id}"}
#: Reads about people and the whole fleet: a service viewer is refused (403, or 422 first).
ADMIN_READS = {"GET /api/v1/users", "GET /api/v1/memberships", "GET /api/v1/tokens",
               "GET /api/v1/audit"}
#: Writes with a body that viewers may make too: JSON (verdict) and multipart (scouting).
ANY_ROLE_BODY = {"POST /api/v1/detections/{detection_id}/verdict", "POST /api/v1/observations",
                 "POST /api/v1/observations/{observation_id}/verdict"}
# Technicians' alert writes answer the same way.
JSON_WRITES |= {"POST /api/v1/alert-rules", "PATCH /api/v1/alert-rules/{rule_id}",
                "DELETE /api/v1/alert-rules/{rule_id}", "POST /api/v1/alerts/{alert_id}/clear"}
# A field's risk parameters and the farm's webhooks are the technician's too.
JSON_WRITES |= {"PUT /api/v1/fields/{field_id}/risk/parameters/{model}",
                "POST /api/v1/webhooks"}
# Notification settings are a person's own: a service token has none (404).
SELF_SERVICE |= {"GET /api/v1/notifications", "PUT /api/v1/notifications"}


def _has_inputs(operation: Any) -> bool:
    """Something to make invalid besides the token (which the run always sends as given); an
    archive upload (application/octet-stream) has no invalid form in the schema."""
    binary = all(b.media_type == "application/octet-stream" for b in operation.body)
    return (operation.body and not binary) or any(
        p.location != "header" for p in operation.iter_parameters())


@pytest.mark.timeout(300)
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
