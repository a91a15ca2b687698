"""Test packages made from the base model (1.1.0, not the shipped default): a copy with another
version, signed by a test key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from agrifleet.package import generate_keypair, pack, sign_package
from tests.base_model import BASE_MODEL_DIR

#: What a copy leaves out: the float benchmark model and evaluation pictures (size only).
SKIP = ("model_float.tflite", "confusion_*.png", "manifest.sig")


def keypair(folder: Path) -> tuple[Path, Path]:
    """(signing.key, signing.pub) in ``folder``."""
    return generate_keypair(folder)


def package_dir(dest: Path, version: str, key: Path | None, *, name: str | None = None,
                labels: list[str] | None = None, expires_days: int = 30) -> Path:
    """A copy of the base model as ``version`` (signed with ``key`` unless None)."""
    shutil.copytree(BASE_MODEL_DIR, dest, ignore=shutil.ignore_patterns(*SKIP))
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest.update(version=version, float_reference=None, files=[], signing=None)
    if name is not None:
        manifest["name"] = name
    if labels is not None:
        manifest["labels"] = labels
        (dest / "labels.txt").write_text("\n".join(labels) + "\n")
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if key is not None:
        sign_package(dest, key, expires_days=expires_days)
    return dest


def archive(pkg_dir: Path) -> bytes:
    """The .tar.gz of a signed package folder."""
    out = pkg_dir.with_suffix(".tar.gz")
    pack(pkg_dir, out)
    return out.read_bytes()
