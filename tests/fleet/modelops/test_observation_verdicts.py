"""Verdicts on scouting observations: anyone in the observation's farm confirms the model's
diagnosis or rejects it naming the right class from the model's labels; the latest wins;
another farm's observation is a 404."""

from __future__ import annotations

from sqlmodel import Session

from agrifleet.fleet.modelops.tables import ObservationVerdict
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.farmdata import conftest as farmdata_fixtures
from tests.fleet.farmdata.data import FarmData
from tests.fleet.farmdata.test_export import _headers
from tests.fleet.people.auth.people import add_user

#: An app with a data directory, and two farms of known data.
farm_app = farmdata_fixtures.farm_app
two_farms = farmdata_fixtures.two_farms


def test_a_viewer_rejects_a_diagnosis_naming_the_right_class(
        farm_app: FleetUnderTest, two_farms: tuple[FarmData, FarmData]) -> None:
    farm, other = two_farms
    add_user(farm_app.app.state.engine, "viewer-a@example.org", {farm.farm_id: "viewer"})
    viewer = _headers(farm_app, "viewer-a@example.org")
    observation = farm.observations[1]
    url = f"/api/v1/observations/{observation}/verdict"
    wrong = farm_app.client.post(url, headers=viewer,
                                 json={"verdict": "rejected", "label": "Coffee___Rust"})
    assert wrong.status_code == 422 and "not a label of model leaf-disease 2.0.0" in wrong.text
    given = farm_app.client.post(url, headers=viewer, json={
        "verdict": "rejected", "label": "Tomato___Septoria_leaf_spot"})
    assert given.status_code == 200, given.text
    assert given.json()["label"] == "Tomato___Septoria_leaf_spot"
    assert given.json()["given_by"] == "viewer-a@example.org"
    confirmed = farm_app.client.post(url, headers=viewer, json={
        "verdict": "confirmed", "label": "Tomato___healthy"})
    assert confirmed.status_code == 200 and confirmed.json()["label"] is None  # the model's
    with Session(farm_app.app.state.engine) as session:
        row = session.get(ObservationVerdict, observation)
        assert row is not None and row.verdict == "confirmed"
    foreign = f"/api/v1/observations/{other.observations[0]}/verdict"
    assert farm_app.client.post(foreign, headers=viewer,
                                json={"verdict": "confirmed"}).status_code == 404
    assert farm_app.client.post(url, json={"verdict": "confirmed"}).status_code == 401
