"""Verdicts: anyone may confirm or reject a detection and name the right class from the model's
labels; one verdict per detection (the latest wins, with who and when), shown on the detection
and counted per model version as field precision."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from agrifleet.fleet.modelops.tables import DetectionVerdict
from agrifleet.fleet.people.auth import create_token
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.device import detection
from tests.fleet.web.api.rows import store_items


def _detections(api: FleetUnderTest, *labels: str, version: str = "1.1.0") -> list[int]:
    api.register("leaf-1")
    items = [{**detection(seq, label=label), "model": {"name": "leaf-disease",
                                                     "version": version, "sha256": "ab" * 32}}
             for seq, label in enumerate(labels, start=1)]
    store_items(api.app, "leaf-1", items)
    return [d["id"] for d in sorted(api.get("/api/v1/detections"), key=lambda d: d["seq"])]


def _verdict(api: FleetUnderTest, detection_id: int, headers: dict[str, str],
             **body: Any) -> Any:
    return api.client.post(f"/api/v1/detections/{detection_id}/verdict", headers=headers,
                           json=body)


def test_a_viewer_confirms_and_the_detection_shows_it(api: FleetUnderTest) -> None:
    [det] = _detections(api, "Tomato___Late_blight")
    response = _verdict(api, det, api.viewer, verdict="confirmed")
    assert response.status_code == 200, response.text
    given = response.json()
    assert given["verdict"] == "confirmed" and given["given_by"].endswith("(viewer)")
    shown = api.get(f"/api/v1/detections/{det}")
    assert shown["verdict"] == "confirmed" and shown["verdict_label"] is None
    assert shown["verdict_by"] == given["given_by"] and shown["verdict_at"] == given["given_at"]
    assert api.get("/api/v1/detections")[0]["verdict"] == "confirmed"


def test_the_latest_verdict_wins(api: FleetUnderTest) -> None:
    [det] = _detections(api, "Tomato___Late_blight")
    assert _verdict(api, det, api.viewer, verdict="confirmed").status_code == 200
    technician = {"Authorization": f"Bearer {create_token(api.app.state.engine, 'technician')}"}
    second = _verdict(api, det, technician, verdict="rejected", label="Tomato___Early_blight")
    assert second.status_code == 200, second.text
    shown = api.get(f"/api/v1/detections/{det}")
    assert shown["verdict"] == "rejected" and shown["verdict_label"] == "Tomato___Early_blight"
    assert shown["verdict_by"].endswith("(technician)")
    with Session(api.app.state.engine) as session:
        assert len(session.exec(select(DetectionVerdict)).all()) == 1


def test_bad_verdicts_are_refused(api: FleetUnderTest) -> None:
    [det] = _detections(api, "Tomato___Late_blight")
    assert _verdict(api, det, api.viewer, verdict="maybe").status_code == 422
    wrong = _verdict(api, det, api.viewer, verdict="rejected", label="Banana___Sigatoka")
    assert wrong.status_code == 422 and "not a label of model leaf-disease 1.1.0" in wrong.text
    assert _verdict(api, det, api.viewer, verdict="confirmed", extra=1).status_code == 422
    assert _verdict(api, 999, api.viewer, verdict="confirmed").status_code == 404
    anonymous = api.client.post(f"/api/v1/detections/{det}/verdict",
                                json={"verdict": "confirmed"})
    assert anonymous.status_code == 401
    assert api.get(f"/api/v1/detections/{det}")["verdict"] is None


def test_field_precision_counts_verdicts_per_model_version(api: FleetUnderTest) -> None:
    ids = _detections(api, "Tomato___Late_blight", "Tomato___Late_blight",
                      "Tomato___Late_blight", "Potato___Early_blight")
    store_items(api.app, "leaf-1", [{**detection(10), "model": {
        "name": "leaf-disease", "version": "1.2.0", "sha256": "cd" * 32}}])
    newer = next(d["id"] for d in api.get("/api/v1/detections") if d["seq"] == 10)
    for det, verdict in zip(ids, ["confirmed", "confirmed", "rejected", "confirmed"],
                            strict=True):
        assert _verdict(api, det, api.viewer, verdict=verdict).status_code == 200
    assert _verdict(api, newer, api.viewer, verdict="rejected").status_code == 200

    figures = api.get("/api/v1/models/leaf-disease/1.1.0/field-precision")
    assert (figures["confirmed"], figures["rejected"], figures["precision"]) == (3, 1, 0.75)
    assert figures["by_label"] == [
        {"label": "Potato___Early_blight", "confirmed": 1, "rejected": 0, "precision": 1.0},
        {"label": "Tomato___Late_blight", "confirmed": 2, "rejected": 1, "precision": 0.6667},
    ]
    other = api.get("/api/v1/models/leaf-disease/1.2.0/field-precision")
    assert (other["confirmed"], other["rejected"], other["precision"]) == (0, 1, 0.0)
    none = api.get("/api/v1/models/leaf-disease/9.9.9/field-precision")
    assert none["precision"] is None and none["by_label"] == []


def test_field_precision_of_one_farm_counts_its_verdicts_only(api: FleetUnderTest) -> None:
    from tests.fleet.people.auth.people import add_farm, add_user, bearer, personal_token

    engine = api.app.state.engine
    ids = _detections(api, "Tomato___Late_blight", "Tomato___Late_blight")  # default farm
    other = add_farm(engine, "Nông trại Đà Lạt")
    api.client.post("/api/v1/devices", headers=api.admin, json={"id": "leaf-2",
                                                               "farm_id": other})
    store_items(api.app, "leaf-2", [{**detection(1), "model": {
        "name": "leaf-disease", "version": "1.1.0", "sha256": "ab" * 32}}])
    theirs = next(d["id"] for d in api.get("/api/v1/detections") if d["device_id"] == "leaf-2")
    for det, verdict in ((ids[0], "confirmed"), (ids[1], "confirmed"), (theirs, "rejected")):
        assert _verdict(api, det, api.viewer, verdict=verdict).status_code == 200
    url = "/api/v1/models/leaf-disease/1.1.0/field-precision"
    assert api.get(url)["precision"] == 0.6667  # a service token: every farm
    assert api.get(url, farm_id=1)["precision"] == 1.0
    assert api.get(url, farm_id=other)["precision"] == 0.0
    user = add_user(engine, "an@example.org", {1: "viewer"})
    mine = bearer(personal_token(engine, user)[1])
    assert api.client.get(url, params={"farm_id": other}, headers=mine).status_code == 404
    assert api.client.get(url, headers=mine).json()["precision"] == 1.0
