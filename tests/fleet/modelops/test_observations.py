"""Scouting: a photo sent as multipart is classified by the real TFLite model (the shipped one
while no rollout completed), stored re-encoded with a thumbnail, and answered with its advice
key; the phone's resend of the same client_id stores nothing new and gets the same answer (and
another farm's client_id is a 409 that shows nothing of it);
what is not an image, too large, empty or incomplete is refused and leaves nothing behind."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from agrifleet.fleet.settings import FleetSettings
from agrifleet.models.shipped import DEFAULT_NAME, DEFAULT_VERSION, default_model_dir
from tests.fleet.conftest import FleetUnderTest, running_fleet
from tests.fleet.people.auth.people import add_farm, add_user, bearer, personal_token

SELFTEST = default_model_dir() / "selftest"
RUST = SELFTEST / "02-apple-cedar-apple-rust.png"


@pytest.fixture
def scouting(migrated_database_url: str, tmp_path: Path) -> Iterator[FleetUnderTest]:
    settings = FleetSettings(database_url=migrated_database_url, data_dir=tmp_path / "data",
                             observation_max_bytes=256 * 1024, alert_tick_s=3600)
    with running_fleet(settings) as fleet:
        yield fleet


def _send(fleet: FleetUnderTest, photo: bytes, client_id: str | None = None,
          ctype: str = "image/png", headers: dict[str, str] | None = None,
          **fields: Any) -> Any:
    data = {"client_id": client_id or str(uuid.uuid4()), **fields}
    return fleet.client.post("/api/v1/observations", headers=fleet.viewer if headers is None
                             else headers, data=data, files={"photo": ("leaf.png", photo, ctype)})


def _recorded(name: str) -> tuple[str, float]:
    """The label and top probability the model's self-test recorded for one image."""
    entry = json.loads((SELFTEST / "answers.json").read_text())["images"][name]
    return entry["label"], max(entry["probabilities"])


def _photos(fleet: FleetUnderTest) -> list[Path]:
    folder = fleet.app.state.settings.data_dir / "observations"
    return sorted(folder.glob("*")) if folder.is_dir() else []


def test_a_photo_is_classified_stored_and_answered_with_advice(
        scouting: FleetUnderTest) -> None:
    made = scouting.client.post("/api/v1/farms/1/fields", headers=scouting.admin,
                                json={"name": "orchard", "crop": "apple"})
    assert made.status_code == 201, made.text
    field = made.json()["id"]
    response = _send(scouting, RUST.read_bytes(), field_id=str(field), latitude="10.762622",
                     longitude="106.660172", taken_at="2026-06-01T08:30:00+07:00")
    assert response.status_code == 201, response.text
    answer = response.json()
    label, confidence = _recorded(RUST.name)
    assert answer["best"] == label == "Apple___Cedar_apple_rust"
    assert abs(answer["confidence"] - confidence) <= 0.04
    assert (answer["model_name"], answer["model_version"]) == (DEFAULT_NAME, DEFAULT_VERSION)
    assert answer["crop"]["best"] == "Apple" and answer["disease"]["best"] == "Cedar apple rust"
    disease_clear = answer["disease"]["uncertain"] is False
    assert answer["advice_key"] == (label if not answer["uncertain"] or disease_clear else None)
    assert answer["field_id"] == field
    assert answer["latitude"] == pytest.approx(10.762622)
    assert answer["taken_at"] == "2026-06-01T01:30:00Z"
    assert answer["taken_by"].endswith("(viewer)")

    photo = scouting.client.get(answer["photo_url"], headers=scouting.viewer)
    thumb = scouting.client.get(answer["thumbnail_url"], headers=scouting.viewer)
    for got in (photo, thumb):
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
        assert Image.open(io.BytesIO(got.content)).format == "JPEG"
    assert answer["photo_bytes"] == len(photo.content) and answer["width"] == Image.open(RUST).width
    assert len(_photos(scouting)) == 2
    assert scouting.get(f"/api/v1/observations/{answer['id']}") == answer
    assert scouting.get("/api/v1/observations", field=field) == [answer]
    assert scouting.get("/api/v1/observations", field=field + 1) == []
    assert scouting.get("/api/v1/observations", label=answer["label"]) == [answer]


def test_a_resend_of_the_same_client_id_gets_the_first_answer(
        scouting: FleetUnderTest) -> None:
    client_id = str(uuid.uuid4())
    first = _send(scouting, RUST.read_bytes(), client_id)
    assert first.status_code == 201, first.text
    again = _send(scouting, RUST.read_bytes(), client_id)
    assert again.status_code == 200 and again.json() == first.json()
    other = SELFTEST / "03-apple-healthy.png"
    changed = _send(scouting, other.read_bytes(), client_id)  # what the id named is kept
    assert changed.status_code == 200 and changed.json() == first.json()
    assert len(scouting.get("/api/v1/observations")) == 1
    assert len(_photos(scouting)) == 2


def test_another_farms_client_id_is_refused_without_showing_its_observation(
        scouting: FleetUnderTest) -> None:
    client_id = str(uuid.uuid4())
    first = _send(scouting, RUST.read_bytes(), client_id)  # the default farm's
    assert first.status_code == 201, first.text
    engine = scouting.app.state.engine
    bravo = add_farm(engine, "Farm Bravo")
    _, secret = personal_token(engine, add_user(engine, "v@bravo.example", {bravo: "viewer"}))
    again = _send(scouting, RUST.read_bytes(), client_id, headers=bearer(secret))
    assert again.status_code == 409, again.text
    assert str(first.json()["id"]) not in again.text and "taken" in again.json()["detail"]
    assert len(_photos(scouting)) == 2  # nothing stored for Bravo


def test_large_photos_are_scaled_down_and_stripped(scouting: FleetUnderTest,
                                                   tmp_path: Path) -> None:
    big = Image.open(RUST).convert("RGB").resize((3000, 2000))
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    big.save(out, format="JPEG", quality=30, exif=exif)
    assert len(out.getvalue()) < 256 * 1024
    answer = _send(scouting, out.getvalue(), ctype="image/jpeg").json()
    assert (answer["width"], answer["height"]) == (2048, 1365)
    stored = scouting.client.get(answer["photo_url"], headers=scouting.viewer).content
    assert not Image.open(io.BytesIO(stored)).getexif()
    thumb = scouting.client.get(answer["thumbnail_url"], headers=scouting.viewer).content
    assert max(Image.open(io.BytesIO(thumb)).size) == 320


@pytest.mark.parametrize(("photo", "ctype", "fields", "status", "says"), [
    (b"hello, not a photo", "text/plain", {}, 415, "not an image"),
    (b"\xff\xd8\xff garbage", "image/jpeg", {}, 415, "not a photo the fleet can read"),
    (b"", "image/png", {}, 422, "empty"),
    (b"x" * (256 * 1024 + 1), "image/png", {}, 413, "larger than 262144 bytes"),
    (RUST.read_bytes(), "image/png", {"latitude": "10.7"}, 422, "together"),
    (RUST.read_bytes(), "image/png", {"latitude": "91", "longitude": "0"}, 422, "less than"),
    (RUST.read_bytes(), "image/png", {"taken_at": "yesterday"}, 422, "datetime"),
    (RUST.read_bytes(), "image/png", {"client_id": "not-a-uuid"}, 422, "UUID"),
])
def test_bad_uploads_are_refused_and_leave_nothing(
        scouting: FleetUnderTest, photo: bytes, ctype: str, fields: dict[str, Any],
        status: int, says: str) -> None:
    response = _send(scouting, photo, ctype=ctype, **fields)
    assert response.status_code == status, response.text
    assert says in response.text
    assert scouting.get("/api/v1/observations") == []
    assert _photos(scouting) == []


def test_a_tiny_image_and_anonymous_senders_are_refused(scouting: FleetUnderTest) -> None:
    tiny = io.BytesIO()
    Image.new("RGB", (8, 8)).save(tiny, format="PNG")
    refused = _send(scouting, tiny.getvalue())
    assert refused.status_code == 422 and "too small" in refused.text
    assert _send(scouting, RUST.read_bytes(), headers={}).status_code == 401
    missing = scouting.client.post("/api/v1/observations", headers=scouting.viewer,
                                   data={"client_id": str(uuid.uuid4())})
    assert missing.status_code == 422
    assert scouting.client.get("/api/v1/observations/5", headers=scouting.viewer
                               ).status_code == 404
    assert scouting.client.get("/api/v1/observations/5/photo", headers=scouting.viewer
                               ).status_code == 404


def _answer(label: str, best: str, disease: dict[str, Any]) -> Any:
    from agrifleet.fleet.modelops.tables import ObservationBase

    return ObservationBase.model_construct(label=label, uncertain=label == "uncertain",
                                           best=best, disease=disease)


def test_the_advice_key_is_the_answer_or_the_likely_class_when_only_the_crop_is_unsure() -> None:
    from agrifleet.fleet.modelops.observations import advice_key

    blight = {"name": "Late blight", "confidence": 0.9, "uncertain": False}
    assert advice_key(_answer("Tomato___Late_blight", "Tomato___Late_blight", blight)) == \
        "Tomato___Late_blight"
    # "late blight, crop uncertain": the advice of the most likely class, which has that disease
    assert advice_key(_answer("uncertain", "Potato___Late_blight", blight)) == \
        "Potato___Late_blight"
    # the most likely class has another disease than the clear one: no advice to give
    assert advice_key(_answer("uncertain", "Potato___Early_blight", blight)) is None
    assert advice_key(_answer("uncertain", "Potato___Late_blight",
                              {**blight, "uncertain": True})) is None
    assert advice_key(_answer("uncertain", "Potato___Late_blight", {})) is None
