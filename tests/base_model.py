"""Which model a test starts from: a fixed base for update tests, or the shipped default.

Tests of updates, rollbacks, packages and rollouts install a model and then offer a newer one
(1.2.0, 1.3.0, ...). They start from :data:`BASE_MODEL_DIR`, the 1.1.0 folder kept in the
repository for rollback tests, so that their upgrades stay upgrades whatever version ships by
default. Tests of what runs out of the box compare with :data:`models.shipped.DEFAULT_VERSION`;
where a test must start from the shipped default (a process the test does not configure), it
offers :func:`newer_than_shipped`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agrifleet.models.shipped import DEFAULT_NAME, DEFAULT_VERSION, default_model_dir, models_root

#: The version update tests start from (kept in the repository, never the newest one).
BASE_VERSION = "1.1.0"

#: Its folder: model.tflite, manifest.json, labels.txt, selftest/, test_sample.txt.
BASE_MODEL_DIR: Path = models_root() / DEFAULT_NAME / BASE_VERSION


def newer_than_shipped(minor: int = 0) -> str:
    """A version above the shipped default: its major + 1 (``minor`` for a second upgrade)."""
    major = int(DEFAULT_VERSION.split(".")[0])
    return f"{major + 1}.{minor}.0"


#: predict and eval run the shipped model; the package commands work on copies of the base model.
needs_model = pytest.mark.skipif(
    not all((d / "manifest.json").is_file() for d in (default_model_dir(), BASE_MODEL_DIR)),
    reason="no shipped or base model",
)
