"""A node's detection names the crop and the disease on its own, each with its confidence and
"uncertain" flag, as the classifier said them, and it is a valid contract item."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from agrifleet.contract import Detection
from agrifleet.edge.inference.detection import detection_body
from agrifleet.inference.classifier import UNCERTAIN, Classifier
from agrifleet.manifest import read_manifest
from tests.agrifleet.inference.conftest import edit_manifest


def _item(body: dict[str, object]) -> Detection:
    return Detection.model_validate({**body, "seq": 0, "ts": datetime.now(UTC), "uptime_s": 1.0})


def test_parts_are_the_classifiers_crop_and_disease(model_copy: Path, leaf: bytes) -> None:
    labels = read_manifest(model_copy).labels
    edit_manifest(model_copy, thresholds={lb: 0.0 for lb in labels})
    classifier = Classifier.load(model_copy)
    p = classifier.classify(leaf)
    item = _item(detection_body(p, classifier.manifest, leaf, "cam-1", 8192))
    assert item.crop is not None and item.disease is not None
    assert (item.crop.name, item.crop.uncertain) == (p.crop.best, False)
    assert (item.disease.name, item.disease.uncertain) == (p.disease.best, False)
    assert item.crop.confidence == round(p.crop.confidence, 4)
    assert item.disease.confidence == round(p.disease.confidence, 4)
    assert item.label == p.best


def test_disease_can_be_answered_while_the_crop_is_uncertain(
    model_copy: Path, leaf: bytes
) -> None:
    labels = read_manifest(model_copy).labels
    edit_manifest(model_copy, thresholds={lb: 1.0 for lb in labels}, crop_threshold=1.0,
                  disease_threshold=0.0)
    classifier = Classifier.load(model_copy)
    p = classifier.classify(leaf)
    assert p.crop.confidence < 1.0  # the generated leaf is not quite certain of its crop
    item = _item(detection_body(p, classifier.manifest, leaf, "cam-1", 8192))
    assert item.label == UNCERTAIN
    assert item.crop is not None and (item.crop.name, item.crop.uncertain) == (UNCERTAIN, True)
    assert item.disease is not None and not item.disease.uncertain
    assert item.disease.name == p.disease.best
