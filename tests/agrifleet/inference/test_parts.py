"""Class labels split into a crop and a normalised disease; probabilities add up per part."""

from __future__ import annotations

import numpy as np
import pytest

from agrifleet.inference.parts import (
    HEALTHY,
    crop_name,
    disease_name,
    grouping,
    part_thresholds,
)


@pytest.mark.parametrize(
    ("label", "crop", "disease"),
    [
        ("Tomato___Late_blight", "Tomato", "Late blight"),
        ("Potato___Late_blight", "Potato", "Late blight"),
        ("Corn_(maize)___Common_rust_", "Corn (maize)", "Common rust"),
        ("Tomato___Tomato_mosaic_virus", "Tomato", "Mosaic virus"),
        ("Tomato___Tomato_Yellow_Leaf_Curl_Virus", "Tomato", "Yellow leaf curl virus"),
        ("Apple___Apple_scab", "Apple", "Scab"),
        ("Pepper,_bell___Bacterial_spot", "Pepper, bell", "Bacterial spot"),
        ("Cherry_(including_sour)___healthy", "Cherry (including sour)", HEALTHY),
        ("Corn_(maize)___Cercospora_leaf_spot Gray_leaf_spot", "Corn (maize)",
         "Cercospora leaf spot (gray leaf spot)"),
        ("Tomato___Spider_mites Two-spotted_spider_mite", "Tomato",
         "Spider mites (two-spotted spider mite)"),
        ("Grape___Esca_(Black_Measles)", "Grape", "Esca (black measles)"),
        ("rust", "rust", "Rust"),  # no crop part: the label stands for both
    ],
)
def test_plantvillage_names_give_crop_and_normalised_disease(
    label: str, crop: str, disease: str
) -> None:
    assert crop_name(label) == crop
    assert disease_name(label) == disease


LABELS = ["Potato___Late_blight", "Potato___healthy", "Tomato___Late_blight",
          "Tomato___Leaf_Mold", "Tomato___healthy"]


def test_sums_per_crop_and_per_disease_across_crops() -> None:
    probs = np.array([[0.1, 0.2, 0.4, 0.1, 0.2]])
    crops, diseases = grouping(LABELS, "crop"), grouping(LABELS, "disease")
    assert crops.names == ["Potato", "Tomato"]
    assert crops.sums(probs)[0].tolist() == pytest.approx([0.3, 0.7])
    assert diseases.names == ["Late blight", HEALTHY, "Leaf mold"]
    assert diseases.sums(probs)[0].tolist() == pytest.approx([0.5, 0.4, 0.1])


def test_part_threshold_is_the_lowest_of_its_classes_unless_given() -> None:
    thresholds = dict(zip(LABELS, [0.5, 0.9, 0.6, 0.35, 0.4], strict=True))
    diseases = grouping(LABELS, "disease")
    assert part_thresholds(diseases, LABELS, thresholds).tolist() == [0.5, 0.4, 0.35]
    assert part_thresholds(diseases, LABELS, thresholds, 0.7).tolist() == [0.7, 0.7, 0.7]
