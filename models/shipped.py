"""Where the models shipped inside the package live."""

from __future__ import annotations

from pathlib import Path

DEFAULT_NAME = "leaf-disease"
DEFAULT_VERSION = "2.0.0"
#: The public half of the key the project signs its shipped model packages with (the private
#: half is kept offline by the maintainers, never in the repository).
RELEASE_KEY_NAME = "release-signing.pub"


def models_root() -> Path:
    """The folder holding ``<name>/<version>/`` model folders."""
    return Path(__file__).resolve().parent


def default_model_dir() -> Path:
    """The folder of the default shipped model (model.tflite, manifest.json, labels.txt)."""
    return models_root() / DEFAULT_NAME / DEFAULT_VERSION


def release_public_key() -> Path:
    """The project's release public key: ``agrifleet model verify DIR --key`` this file."""
    return models_root() / RELEASE_KEY_NAME
