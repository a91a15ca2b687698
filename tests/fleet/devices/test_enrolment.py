"""Enrolment specifies: a one-time code, used once before it expires, gives a node a broker
account of its own through Mosquitto's dynamic security plugin, and nothing secret is stored."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, select
from sqlmodel import Session
from sqlmodel import select as select_rows

from agrifleet.fleet.db import make_engine
from agrifleet.fleet.devices.enrolment import CREDENTIAL_TAKEN, INVALID_CODE
from agrifleet.fleet.devices.tables import EnrolmentCode
from agrifleet.fleet.people.auth import create_token
from agrifleet.fleet.settings import FleetSettings
from agrifleet.provisioning.dynsec import DynsecBroker
from tests.fleet.conftest import FleetUnderTest, running_fleet
from tests.services import connack


@pytest.fixture
def enrolling(
    migrated_database_url: str, dynsec_broker: DynsecBroker
) -> Iterator[FleetUnderTest]:
    """The fleet ingesting from a Mosquitto whose accounts it keeps (dynamic security)."""
    settings = FleetSettings(
        database_url=migrated_database_url, mqtt_url=dynsec_broker.fleet_url,
        mqtt_client_id=f"fleet-{secrets.token_hex(4)}", enrolment_attempts_per_minute=1000,
    )
    with running_fleet(settings) as running:
        assert running.app.state.ingestor.wait_connected(10), "fleet did not connect"
        yield running


def technician(fleet: FleetUnderTest) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(fleet.app.state.engine, 'technician')}"}


def new_code(fleet: FleetUnderTest, device_id: str, register: bool = True) -> str:
    if register:
        fleet.register(device_id)
    response = fleet.client.post(f"/api/v1/devices/{device_id}/enrolment-code",
                                 headers=technician(fleet))
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"code", "expires_at"}
    assert re.fullmatch(r"([A-Z2-7]{4}-){4}[A-Z2-7]{4}", body["code"])
    return str(body["code"])


def node_secrets() -> dict[str, str]:
    return {"mqtt_password": secrets.token_urlsafe(32), "device_secret": secrets.token_urlsafe(32)}


def enrol(fleet: FleetUnderTest, code: str, made: dict[str, str]) -> Any:
    return fleet.client.post("/api/v1/enrol", json={
        "code": code, "mqtt_password": made["mqtt_password"],
        "device_secret_sha256": hashlib.sha256(made["device_secret"].encode()).hexdigest()})


def test_a_code_enrols_a_node_once_and_its_own_password_opens_the_broker(
        enrolling: FleetUnderTest, dynsec_broker: DynsecBroker) -> None:
    code = new_code(enrolling, "field-01")
    made = node_secrets()
    response = enrol(enrolling, code.lower().replace("-", " "), made)  # typed sloppily
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["device_id"] == "field-01"
    assert answer["mqtt_username"] == "field-01"
    assert answer["mqtt_url"] == f"mqtt://127.0.0.1:{dynsec_broker.port}"
    assert answer["mqtt_prefix"] == "agrifleet"
    assert not connack(dynsec_broker.port, "field-01", made["mqtt_password"]).is_failure
    assert connack(dynsec_broker.port, "field-01", "not-the-password").is_failure
    assert connack(dynsec_broker.port).is_failure  # anonymous

    again = enrol(enrolling, code, node_secrets())
    assert again.status_code == 401
    assert again.json()["detail"] == INVALID_CODE
    # the second try changed nothing: the first node's password still works
    assert not connack(dynsec_broker.port, "field-01", made["mqtt_password"]).is_failure


@pytest.mark.parametrize("forged", ["AAAA-AAAA-AAAA-AAAA-AAAA", "not a code", "A" * 64])
def test_forged_codes_get_the_same_answer_as_used_ones(enrolling: FleetUnderTest,
                                                       forged: str) -> None:
    new_code(enrolling, "field-02")
    response = enrol(enrolling, forged, node_secrets())
    assert response.status_code == 401
    assert response.json()["detail"] == INVALID_CODE


def test_an_expired_code_is_refused_and_says_so(enrolling: FleetUnderTest,
                                                dynsec_broker: DynsecBroker) -> None:
    code = new_code(enrolling, "field-03")
    with Session(enrolling.app.state.engine) as session:
        row = session.exec(select_rows(EnrolmentCode)).one()
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(row)
        session.commit()
    made = node_secrets()
    response = enrol(enrolling, code, made)
    assert response.status_code == 410
    assert "expired" in response.json()["detail"]
    assert connack(dynsec_broker.port, "field-03", made["mqtt_password"]).is_failure


def test_only_technicians_and_admins_make_codes(enrolling: FleetUnderTest) -> None:
    enrolling.register("field-04")
    url = "/api/v1/devices/field-04/enrolment-code"
    assert enrolling.client.post(url).status_code == 401
    assert enrolling.client.post(url, headers=enrolling.viewer).status_code == 403
    assert enrolling.client.post(url, headers=enrolling.admin).status_code == 201
    assert enrolling.client.post("/api/v1/devices/nobody/enrolment-code",
                                 headers=enrolling.admin).status_code == 404


def test_weak_or_malformed_node_secrets_are_refused_before_the_code_is_used(
        enrolling: FleetUnderTest) -> None:
    code = new_code(enrolling, "field-05")
    weak = enrolling.client.post("/api/v1/enrol", json={
        "code": code, "mqtt_password": "short", "device_secret_sha256": "0" * 64})
    assert weak.status_code == 422
    assert enrol(enrolling, code, node_secrets()).status_code == 200


def test_a_new_code_revokes_the_old_secrets_and_closes_the_old_session(
        enrolling: FleetUnderTest, dynsec_broker: DynsecBroker) -> None:
    first = node_secrets()
    assert enrol(enrolling, new_code(enrolling, "field-06"), first).status_code == 200
    assert not connack(dynsec_broker.port, "field-06", first["mqtt_password"]).is_failure
    code = new_code(enrolling, "field-06", register=False)  # re-enrolling: explicit
    assert connack(dynsec_broker.port, "field-06", first["mqtt_password"]).is_failure
    second = node_secrets()
    assert enrol(enrolling, code, second).status_code == 200
    assert not connack(dynsec_broker.port, "field-06", second["mqtt_password"]).is_failure
    assert connack(dynsec_broker.port, "field-06", first["mqtt_password"]).is_failure


def test_a_code_issued_before_a_revocation_is_void(enrolling: FleetUnderTest) -> None:
    code = new_code(enrolling, "field-07")
    response = enrolling.client.post("/api/v1/devices/field-07/revoke", headers=technician(
        enrolling))
    assert response.status_code == 200, response.text
    assert enrol(enrolling, code, node_secrets()).status_code == 401


def test_the_database_holds_no_secret_of_the_enrolment(enrolling: FleetUnderTest) -> None:
    made = node_secrets()
    code = new_code(enrolling, "field-08")
    assert enrol(enrolling, code, made).status_code == 200
    engine = enrolling.app.state.engine
    metadata = MetaData()
    metadata.reflect(engine)
    dump = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            dump += [repr(tuple(row)) for row in conn.execute(select(table))]
    text = "\n".join(dump)
    assert "field-08" in text  # the dump did read the tables
    for secret in (code, code.replace("-", ""), made["mqtt_password"], made["device_secret"]):
        assert secret not in text


def test_enrolment_attempts_are_rate_limited_per_address(database_url: str,
                                                         dynsec_broker: DynsecBroker) -> None:
    settings = FleetSettings(database_url=database_url, mqtt_url=dynsec_broker.fleet_url,
                             mqtt_client_id=f"fleet-{secrets.token_hex(4)}",
                             enrolment_attempts_per_minute=3)
    with running_fleet(settings) as fleet:
        answers = [enrol(fleet, "AAAA-AAAA-AAAA-AAAA-AAAA", node_secrets()).status_code
                   for _ in range(5)]
    assert answers == [401, 401, 401, 429, 429]


def test_without_a_broker_enrolment_is_unavailable_not_an_error(api: FleetUnderTest) -> None:
    code = new_code(api, "field-09")
    response = enrol(api, code, node_secrets())
    assert response.status_code == 503
    assert "AGRIFLEET_MQTT_URL" in response.json()["detail"]


def test_a_credential_hash_another_device_uses_is_a_clear_409_and_never_logged(
        enrolling: FleetUnderTest, caplog: pytest.LogCaptureFixture) -> None:
    first = node_secrets()
    assert enrol(enrolling, new_code(enrolling, "field-11"), first).status_code == 200
    code = new_code(enrolling, "field-12")
    copied = {**node_secrets(), "device_secret": first["device_secret"]}
    caplog.clear()
    response = enrol(enrolling, code, copied)
    assert response.status_code == 409, response.text
    assert response.json()["detail"] == CREDENTIAL_TAKEN
    digest = hashlib.sha256(first["device_secret"].encode()).hexdigest()
    assert not [r for r in caplog.records if digest in r.getMessage()
                or digest in str(r.exc_info or "")]
    # nothing was used up: the node makes a new credential and the same code enrols it
    assert enrol(enrolling, code, node_secrets()).status_code == 200


def test_engines_never_put_sql_parameters_in_errors(tmp_path: Path) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (v TEXT UNIQUE)"))
        conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": "secret-hash-0001"})
    with pytest.raises(IntegrityError) as raised, engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": "secret-hash-0001"})
    assert "secret-hash-0001" not in str(raised.value)
    engine.dispose()
