"""Where the models shipped inside the package live."""

from __future__ import annotations

from pathlib import Path

DEFAULT_NAME = "leaf-disease"
DEFAULT_VERSION = "3.0.0"
#: The public halves of the keys the project signs its shipped model packages with, oldest
#: first (the private halves are kept offline by the maintainers, never in the repository):
#: 2.0.0 is signed with the first, 3.0.0 with the second.
RELEASE_KEY_NAMES = ("release-signing.pub", "release-signing-2026-12.pub")


def models_root() -> Path:
    """The folder holding ``<name>/<version>/`` model folders."""
    return Path(__file__).resolve().parent


def default_model_dir() -> Path:
    """The folder of the default shipped model (model.tflite, manifest.json, labels.txt)."""
    return models_root() / DEFAULT_NAME / DEFAULT_VERSION


def release_public_key() -> Path:
    """The current release public key: ``agrifleet model verify DIR --key`` this file."""
    return models_root() / RELEASE_KEY_NAMES[-1]


def release_public_keys() -> list[Path]:
    """Every release public key, oldest first (an older shipped version verifies with its own)."""
    return [models_root() / name for name in RELEASE_KEY_NAMES]
