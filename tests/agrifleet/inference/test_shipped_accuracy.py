"""On real leaf photos the shipped model reaches the accuracy its manifest claims."""

from __future__ import annotations

from pathlib import Path

import pytest

from agrifleet.inference.classifier import Classifier
from agrifleet.manifest import read_manifest

pytestmark = pytest.mark.data


def _sample(model_dir: Path, source: str, data: Path) -> list[tuple[Path, str]]:
    rows = [line.split("\t") for line in (model_dir / "test_sample.txt").read_text().splitlines()]
    photos = [(data / key, key.split("/")[0]) for src, key in rows if src == source]
    missing = [p for p, _ in photos if not p.is_file()]
    if missing:
        pytest.skip(f"{len(missing)} sample photos missing, e.g. {missing[0]}")
    return photos


@pytest.mark.parametrize(("source", "folder", "metric"), [
    ("lab", "plantvillage", "test_sample"),
    ("field", "field", "field_sample"),
])
def test_fixed_sample_reaches_the_manifest_figure(
    shared_data: Path, shipped_dir: Path, runtime: str, source: str, folder: str, metric: str
) -> None:
    manifest = read_manifest(shipped_dir)
    photos = _sample(shipped_dir, source, shared_data / folder)
    assert len(photos) >= 30
    classifier = Classifier.load(shipped_dir, runtime=runtime)
    right = sum(classifier.classify(path).best == label for path, label in photos)
    accuracy = right / len(photos)
    claimed = manifest.metrics["int8"][metric]["top1"]
    assert accuracy >= claimed - 0.01, f"{accuracy:.3f} on the sample, manifest says {claimed}"
    if source == "lab":
        assert len({label for _, label in photos}) == len(manifest.labels)
        assert accuracy >= manifest.metrics["int8"]["test"]["top1"] - 0.03
