"""Classify a leaf photo with a verified model folder: a label, or "uncertain", and the top 3.

Besides the class label, a prediction names the crop and the disease separately, each with its
own confidence and "uncertain" (see :mod:`agrifleet.inference.parts`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agrifleet.inference.parts import Grouping, grouping, part_thresholds
from agrifleet.inference.preprocess import ImageSource, preprocess, to_input
from agrifleet.inference.runtime import load_interpreter
from agrifleet.manifest import (
    LABELS_NAME,
    Manifest,
    ModelError,
    TensorSpec,
    read_manifest,
    sha256_file,
)

log = logging.getLogger(__name__)

UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class PartAnswer:
    """The crop or the disease of a photo: a name (or "uncertain") and its own confidence."""

    name: str
    confidence: float
    uncertain: bool
    #: The most likely value even when ``name`` is "uncertain".
    best: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, confidence rounded to 4 places."""
        return {"name": self.name, "confidence": round(self.confidence, 4),
                "uncertain": self.uncertain, "best": self.best}


NO_ANSWER = PartAnswer(name=UNCERTAIN, confidence=0.0, uncertain=True, best="")


@dataclass(frozen=True)
class Prediction:
    """What the model says about one image."""

    label: str
    confidence: float
    uncertain: bool
    top3: list[tuple[str, float]]
    inference_ms: float
    best: str
    crop: PartAnswer = field(default=NO_ANSWER)
    disease: PartAnswer = field(default=NO_ANSWER)

    @property
    def healthy(self) -> bool:
        """True when the leaf is confidently healthy."""
        return not self.uncertain and self.label.endswith("healthy")


def _check_tensor(model_dir: Path, what: str, detail: dict[str, Any], spec: TensorSpec) -> None:
    shape = [int(v) for v in detail["shape"]]
    dtype = np.dtype(detail["dtype"]).name
    scale, zero = detail.get("quantization", (0.0, 0))
    problems = []
    if shape != spec.shape:
        problems.append(f"shape {shape} != manifest {spec.shape}")
    if dtype != spec.dtype:
        problems.append(f"dtype {dtype} != manifest {spec.dtype}")
    if spec.dtype != "float32" and (
        not np.isclose(scale, spec.scale, rtol=1e-6) or int(zero) != spec.zero_point
    ):
        problems.append(f"quantisation ({scale}, {zero}) != manifest ({spec.scale}, "
                        f"{spec.zero_point})")
    if problems:
        raise ModelError(f"{model_dir}: model {what} does not match its manifest: "
                         + "; ".join(problems))


class Classifier:
    """A loaded, verified model. Not thread-safe: give each camera worker its own."""

    def __init__(self, model_dir: Path, manifest: Manifest, interpreter: Any, runtime: str):
        self.model_dir = model_dir
        self.manifest = manifest
        self.runtime = runtime
        self._interpreter = interpreter
        self._input = interpreter.get_input_details()[0]
        self._output = interpreter.get_output_details()[0]
        self._in_dtype = np.dtype(self._input["dtype"])
        self._in_q = self._input.get("quantization", (0.0, 0))
        self._out_q = self._output.get("quantization", (0.0, 0))
        self._thresholds = np.array([manifest.thresholds.get(lb, 0.5) for lb in manifest.labels])
        crops = grouping(manifest.labels, "crop")
        diseases = grouping(manifest.labels, "disease")
        self._parts: dict[str, tuple[Grouping, np.ndarray]] = {
            "crop": (crops, part_thresholds(crops, manifest.labels, manifest.thresholds,
                                            manifest.crop_threshold)),
            "disease": (diseases, part_thresholds(diseases, manifest.labels,
                                                  manifest.thresholds,
                                                  manifest.disease_threshold)),
        }

    @classmethod
    def load(
        cls, model_dir: Path, threads: int = 2, runtime: str | None = None
    ) -> Classifier:
        """Load ``model_dir`` after checking the file against the manifest; ModelError if not."""
        model_dir = Path(model_dir)
        manifest = read_manifest(model_dir)
        path = model_dir / manifest.file
        if not path.is_file():
            raise ModelError(f"{model_dir}: model file {manifest.file} is missing")
        digest = sha256_file(path)
        if digest != manifest.sha256:
            raise ModelError(f"{path}: sha256 {digest[:12]}… does not match the manifest "
                             f"({manifest.sha256[:12]}…): damaged or replaced model file")
        labels_file = model_dir / LABELS_NAME
        if labels_file.is_file():
            labels = labels_file.read_text(encoding="utf-8").splitlines()
            if labels != manifest.labels:
                raise ModelError(f"{labels_file} does not match the manifest's labels")
        if manifest.output.shape != [1, len(manifest.labels)]:
            raise ModelError(f"{model_dir}: manifest output shape {manifest.output.shape} "
                             f"does not fit {len(manifest.labels)} labels")
        missing = set(manifest.labels) - set(manifest.thresholds)
        if missing:
            raise ModelError(f"{model_dir}: no threshold for {sorted(missing)[:3]}")
        from agrifleet.inference.runtime import interpreter_class

        runtime_name, _ = interpreter_class(runtime)
        try:
            interpreter = load_interpreter(path, threads, runtime_name)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{path}: the TFLite runtime cannot load it: {exc}") from exc
        _check_tensor(model_dir, "input", interpreter.get_input_details()[0], manifest.input)
        _check_tensor(model_dir, "output", interpreter.get_output_details()[0], manifest.output)
        log.info("model %s %s loaded from %s (%s, %d threads)", manifest.name, manifest.version,
                 model_dir, runtime_name, threads)
        return cls(model_dir, manifest, interpreter, runtime_name)

    @property
    def size(self) -> int:
        """Input image side in pixels."""
        return self.manifest.size

    def probabilities(self, pixels: np.ndarray) -> tuple[np.ndarray, float]:
        """Class probabilities for uint8 pixels (size, size, 3), and the invoke time in ms."""
        if pixels.shape != (self.size, self.size, 3) or pixels.dtype != np.uint8:
            raise ValueError(f"expected uint8 pixels {(self.size, self.size, 3)}, "
                             f"got {pixels.dtype} {pixels.shape}")
        tensor = to_input(pixels[None], self._in_dtype, *self._in_q)
        started = time.perf_counter()
        self._interpreter.set_tensor(self._input["index"], tensor)
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._output["index"])[0]
        elapsed = (time.perf_counter() - started) * 1000
        scale, zero = self._out_q
        probs = raw.astype(np.float32) if scale == 0 else (raw.astype(np.float32) - zero) * scale
        return probs, elapsed

    def classify_pixels(self, pixels: np.ndarray) -> Prediction:
        """The prediction for preprocessed pixels (see :meth:`probabilities`)."""
        probs, ms = self.probabilities(pixels)
        order = np.argsort(-probs, kind="stable")[:3]
        labels = self.manifest.labels
        best = int(order[0])
        confidence = float(np.clip(probs[best], 0.0, 1.0))
        uncertain = confidence < self._thresholds[best]
        return Prediction(
            label=UNCERTAIN if uncertain else labels[best],
            confidence=confidence,
            uncertain=bool(uncertain),
            top3=[(labels[i], float(np.clip(probs[i], 0.0, 1.0))) for i in order],
            inference_ms=ms,
            best=labels[best],
            crop=self._part_answer("crop", probs),
            disease=self._part_answer("disease", probs),
        )

    def _part_answer(self, part: str, probs: np.ndarray) -> PartAnswer:
        group, limits = self._parts[part]
        sums = np.clip(group.sums(probs), 0.0, 1.0)
        best = int(np.argmax(sums))
        confidence = float(sums[best])
        uncertain = bool(confidence < limits[best])
        name = group.names[best]
        return PartAnswer(name=UNCERTAIN if uncertain else name, confidence=confidence,
                          uncertain=uncertain, best=name)

    def classify(self, source: ImageSource) -> Prediction:
        """Decode, preprocess and classify an image; ImageError if it cannot be decoded."""
        return self.classify_pixels(preprocess(source, self.size))
