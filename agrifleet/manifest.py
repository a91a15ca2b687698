"""The manifest that travels with a model file: what the model expects, says and is worth."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

MANIFEST_NAME = "manifest.json"
LABELS_NAME = "labels.txt"
#: How images become the input tensor; the one implementation is agrifleet.inference.preprocess.
PREPROCESSING = (
    "agrifleet.inference.preprocess.preprocess: Pillow decode, EXIF transpose, RGB, shorter side "
    "scaled to the input size (bilinear), centre crop; pixel values 0-255 quantised with the "
    "input tensor's scale and zero point (the model rescales inside its graph)"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TensorSpec(_Strict):
    """Shape, type and quantisation of one model tensor."""

    shape: list[int]
    dtype: Literal["int8", "uint8", "float32"]
    scale: float = Field(default=0.0, ge=0)
    zero_point: int = 0


class SplitInfo(_Strict):
    """How the data was split; ``hash`` identifies the exact assignment of every photo."""

    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    method: str
    counts: dict[str, dict[str, int]] = Field(default_factory=dict)


class PackageFile(_Strict):
    """One file of a signed package: its path inside the package, size and SHA-256."""

    path: str = Field(min_length=1, max_length=255)
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class SigningInfo(_Strict):
    """Who signed the package and until when it may be installed (covered by the signature)."""

    key_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    signed_at: AwareDatetime
    expires_at: AwareDatetime


class Manifest(_Strict):
    """manifest.json of a shipped model folder ``models/<name>/<version>/``."""

    format: Literal[1] = 1
    # The lengths are those of the registry's columns, the offer and the API's routes.
    name: str = Field(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: str = Field(max_length=32, pattern=r"^\d+\.\d+\.\d+$")
    file: str = "model.tflite"
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(gt=0)
    input: TensorSpec
    output: TensorSpec
    preprocessing: str = PREPROCESSING
    labels: list[str] = Field(min_length=2)
    thresholds: dict[str, float] = Field(description="Per-class minimum confidence")
    healthy_labels: list[str] = Field(default_factory=list)
    crop_threshold: float | None = Field(
        default=None, ge=0, le=1, description="Minimum confidence to name the crop (default: "
        "per crop, the lowest threshold of its classes)")
    disease_threshold: float | None = Field(
        default=None, ge=0, le=1, description="Minimum confidence to name the disease "
        "(default: per disease, the lowest threshold of its classes)")
    metrics: dict[str, Any] = Field(default_factory=dict)
    split: SplitInfo
    training: dict[str, Any] = Field(default_factory=dict)
    float_reference: str | None = Field(
        default=None, description="The float model the int8 file came from (benchmarks only; "
        "kept beside the package, never listed in files nor packed)"
    )
    files: list[PackageFile] = Field(
        default_factory=list,
        description="Every file of the package but manifest.json and manifest.sig (set by sign)",
    )
    signing: SigningInfo | None = Field(default=None, description="Set by sign")

    @property
    def size(self) -> int:
        """Input image side in pixels."""
        return self.input.shape[1]


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ModelError(ValueError):
    """A model folder is missing, damaged or does not match its manifest."""


def read_manifest(model_dir: Path) -> Manifest:
    """Parse ``model_dir/manifest.json``; ModelError with the reason if it is absent or invalid."""
    path = model_dir / MANIFEST_NAME
    try:
        return Manifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise ModelError(f"{model_dir}: no {MANIFEST_NAME}; is this a model folder?") from exc
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ModelError(f"{path}: invalid manifest: {exc}") from exc


def write_manifest(model_dir: Path, manifest: Manifest) -> None:
    """Write manifest.json (and labels.txt, one label per line) into ``model_dir``."""
    text = json.dumps(manifest.model_dump(mode="json"), indent=2, ensure_ascii=False)
    (model_dir / MANIFEST_NAME).write_text(text + "\n", encoding="utf-8")
    (model_dir / LABELS_NAME).write_text("\n".join(manifest.labels) + "\n", encoding="utf-8")
