"""Detections carry the crop and the disease on their own (contract, storage, API filters), and
detections from nodes that send neither are still stored, also in a database migrated with rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from agrifleet.contract import Detection
from agrifleet.fleet.db import make_engine
from agrifleet.fleet.migrate import upgrade
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.device import detection


def _parts(crop: str, crop_conf: float, disease: str, disease_conf: float) -> dict[str, Any]:
    return {
        "crop": {"name": crop, "confidence": crop_conf, "uncertain": crop == "uncertain"},
        "disease": {"name": disease, "confidence": disease_conf,
                    "uncertain": disease == "uncertain"},
    }


def test_the_contract_takes_both_shapes_and_refuses_bad_parts() -> None:
    old = Detection.model_validate(detection(0))
    assert old.crop is None and old.disease is None
    # Without parts it serialises as before them: no "crop": null for an older fleet to refuse.
    assert "crop" not in old.model_dump_json() and "disease" not in old.model_dump()
    new = Detection.model_validate(detection(1) | _parts("uncertain", 0.41, "Late blight", 0.93))
    assert new.disease is not None and new.disease.name == "Late blight"
    assert new.crop is not None and new.crop.uncertain
    for bad in ({"name": "", "confidence": 0.5, "uncertain": False},
                {"name": "Tomato", "confidence": 1.5, "uncertain": False},
                {"name": "Tomato", "confidence": 0.5},
                {"name": "Tomato", "confidence": 0.5, "uncertain": False, "extra": 1}):
        with pytest.raises(ValidationError):
            Detection.model_validate(detection(2) | {"crop": bad})


def test_old_and_new_detections_go_through_the_broker_into_the_api(
    fleet: FleetUnderTest,
) -> None:
    dev = fleet.device("field-parts")
    ack = dev.send("boot-1", [
        detection(0),
        detection(1, label="uncertain") | _parts("uncertain", 0.41, "Late blight", 0.93),
        detection(2, label="Tomato___healthy") | _parts("Tomato", 0.97, "healthy", 0.96),
        detection(3) | {"crop": {"name": "Tomato", "confidence": 2, "uncertain": False}},
    ])
    assert ack.ranges == [(0, 2)]
    assert list(ack.rejected) == [3]
    rows = {r["seq"]: r for r in fleet.get("/api/v1/detections", device="field-parts")}
    assert set(rows) == {0, 1, 2}
    assert {k: rows[0][k] for k in ("crop", "crop_confidence", "disease", "disease_uncertain")} \
        == {"crop": None, "crop_confidence": None, "disease": None, "disease_uncertain": None}
    assert rows[1]["label"] == "uncertain"
    assert (rows[1]["crop"], rows[1]["crop_uncertain"]) == ("uncertain", True)
    assert (rows[1]["disease"], rows[1]["disease_confidence"], rows[1]["disease_uncertain"]) \
        == ("Late blight", 0.93, False)
    blight = fleet.get("/api/v1/detections", disease="Late blight")
    assert [r["seq"] for r in blight] == [1]
    tomato = fleet.get("/api/v1/detections", crop="Tomato")
    assert [r["seq"] for r in tomato] == [2]
    both = fleet.get("/api/v1/detections", crop="Tomato", disease="Late blight")
    assert both == []
    one = fleet.get(f"/api/v1/detections/{rows[2]['id']}")
    assert (one["crop"], one["disease"], one["crop_confidence"]) == ("Tomato", "healthy", 0.97)


@pytest.mark.parametrize("query", ["crop=a%00b", "disease=a%00b", f"disease={'x' * 129}",
                                   f"crop={'x' * 129}"])
def test_bad_part_filters_are_422(api: FleetUnderTest, query: str) -> None:
    response = api.client.get(f"/api/v1/detections?{query}", headers=api.viewer)
    assert response.status_code == 422, response.text


def test_migration_keeps_detections_stored_before_it(database_url: str) -> None:
    engine = make_engine(database_url)
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    try:
        upgrade(engine, "0004")
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO device (id, name, created_at, online, tags) "
                "VALUES ('old-node', '', :now, false, '[]')"), {"now": now})
            conn.execute(text(
                "INSERT INTO detection (device_id, boot_id, seq, ts, uptime_s, clock_synced, "
                "camera, label, confidence, uncertain, top3, model_name, model_version, "
                "model_sha256, inference_ms, image_sha256, stored_at, future) VALUES "
                "('old-node', 'b', 0, :now, 1.0, true, 'cam', 'Tomato___Late_blight', 0.9, "
                "false, '[]', 'leaf-disease', '1.1.0', :sha, 12.0, :sha, :now, false)"),
                {"now": now, "sha": "a" * 64})
        upgrade(engine)
        with engine.connect() as conn:
            row = conn.execute(text(
                "SELECT label, crop, crop_confidence, disease, disease_uncertain "
                "FROM detection")).one()
        assert tuple(row) == ("Tomato___Late_blight", None, None, None, None)
    finally:
        engine.dispose()
