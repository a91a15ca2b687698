"""Model folders for the package tests: private copies of the base model to sign and alter."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.base_model import BASE_MODEL_DIR

needs_base_model = pytest.mark.skipif(not (BASE_MODEL_DIR / "manifest.json").is_file(),
                                      reason="no base model")


def copy_package(dest: Path, *, with_float: bool = False, source: Path = BASE_MODEL_DIR) -> Path:
    """A private copy of a model folder, the base model by default (without the 4 MiB float
    model unless ``with_float``)."""
    skip = set() if with_float else {"model_float.tflite"}
    shutil.copytree(source, dest, ignore=lambda _d, names: [n for n in names if n in skip])
    return dest
