"""The disease catalog: every label of the shipped model has a crop, a disease and advice;
every msgid has a Vietnamese and a Chinese translation (not empty, not fuzzy, none stale or
missing against fleet/modelops/advice.py); the template lists the same msgids; the API answers in
the
language asked."""

from __future__ import annotations

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from agrifleet.fleet.modelops import advice
from agrifleet.fleet.modelops.advice import ADVICE_TEXTS, LOCALE_DIR, advice_for, catalog_path
from agrifleet.inference.parts import crop_name, disease_name
from agrifleet.models.shipped import default_model_dir
from tests.fleet.conftest import FleetUnderTest

LABELS = (default_model_dir() / "labels.txt").read_text(encoding="utf-8").splitlines()


def _msgids() -> set[str]:
    found = extract_from_file("python", advice.__file__, keywords={"N_": None})
    return {str(msgid) for _line, msgid, _comments, _context in found}


def test_every_label_of_the_shipped_model_has_advice() -> None:
    assert len(LABELS) == 31
    assert set(ADVICE_TEXTS) == set(LABELS)
    msgids = _msgids()
    for label in LABELS:
        found = advice_for(label)
        assert found.crop_msgid == crop_name(label) and found.disease_msgid == disease_name(label)
        assert {found.crop_msgid, found.disease_msgid, found.what_it_is_msgid,
                found.what_to_do_msgid} <= msgids, label


@pytest.mark.parametrize("lang", ["vi", "zh"])
def test_the_catalog_translates_every_msgid(lang: str) -> None:
    with open(catalog_path(lang), "rb") as handle:
        catalog = read_po(handle, locale=lang)
    entries = {str(m.id): m for m in catalog if m.id}
    assert set(entries) == _msgids(), "stale or missing entries: run the pybabel update"
    empty = [i for i, m in entries.items() if not m.string]
    fuzzy = [i for i, m in entries.items() if m.fuzzy]
    untouched = [i for i, m in entries.items() if m.string == i]  # English copied over
    assert not empty and not fuzzy and not untouched, (empty, fuzzy, untouched)
    assert not [m for m in catalog.obsolete], "obsolete entries"


def test_the_template_lists_the_same_msgids() -> None:
    with open(LOCALE_DIR / "diseases.pot", "rb") as handle:
        template = read_po(handle)
    assert {str(m.id) for m in template if m.id} == _msgids()


def test_no_advice_names_a_brand_and_every_spray_points_to_the_station() -> None:
    for _what_it_is, what_to_do in set(ADVICE_TEXTS.values()):
        assert "®" not in what_to_do and "™" not in what_to_do
        if "spray" in what_to_do or "fungicide" in what_to_do or "miticide" in what_to_do:
            assert "local plant protection station" in what_to_do, what_to_do


def test_official_names_are_used() -> None:
    late, early = advice_for("Potato___Late_blight"), advice_for("Tomato___Early_blight")
    assert advice.translate(late.disease_msgid, "vi") == "Bệnh mốc sương"
    assert advice.translate(late.disease_msgid, "zh") == "晚疫病"
    assert advice.translate(early.disease_msgid, "zh") == "早疫病"
    corn = advice_for("Corn_(maize)___Northern_Leaf_Blight")
    assert advice.translate(corn.disease_msgid, "zh") == "大斑病"


def test_the_api_answers_in_the_language_asked(api: FleetUnderTest) -> None:
    vi = api.get("/api/v1/advice", label="Tomato___Late_blight", lang="vi")
    assert vi["crop"] == "Cà chua" and vi["disease"] == "Bệnh mốc sương"
    assert "trạm bảo vệ thực vật" in vi["what_to_do"] and not vi["healthy"]
    zh = api.get("/api/v1/advice", label="Tomato___Late_blight", lang="zh")
    assert zh["crop"] == "番茄" and zh["disease"] == "晚疫病" and "植保站" in zh["what_to_do"]
    en = api.get("/api/v1/advice", label="Apple___healthy")
    assert en["lang"] == "en" and en["disease"] == "healthy" and en["healthy"]
    assert en["msgids"]["what_it_is"] == en["what_it_is"]
    unknown = api.client.get("/api/v1/advice", headers=api.viewer,
                             params={"label": "Banana___Sigatoka"})
    assert unknown.status_code == 404
    bad = api.client.get("/api/v1/advice", headers=api.viewer,
                         params={"label": "Tomato___Late_blight", "lang": "fr"})
    assert bad.status_code == 422
    assert api.client.get("/api/v1/advice", params={"label": "Apple___healthy"}
                          ).status_code == 401
