"""The package self-test: this interpreter, this model file and this preprocessing give the answers
recorded when the package was made.

``selftest/`` holds a few small images and ``answers.json``: for each image the label the model
gave (its best class) and the probability of every class. On a device, :func:`run_selftest`
classifies each image with :class:`~agrifleet.inference.classifier.Classifier` and compares:
the label exactly, every probability within the recorded tolerance. A different interpreter
build, a broken kernel, a changed resize or channel order shows up as a failure with a reason.
:func:`record_answers` writes ``answers.json`` for the images already in ``selftest/``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agrifleet.inference.classifier import Classifier
from agrifleet.inference.preprocess import ImageError, preprocess
from agrifleet.inference.runtime import interpreter_class
from agrifleet.manifest import ModelError, read_manifest
from agrifleet.package import PackageError

log = logging.getLogger(__name__)

SELFTEST_DIR = "selftest"
ANSWERS_NAME = "answers.json"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Default largest allowed difference of any class probability from the recorded one. The int8
#: output's step is 1/255 ≈ 0.004. Other kernels differ by a few steps: TFLite's reference
#: kernels (no XNNPACK; what another CPU's build may run) differ from the optimised ones by up
#: to 0.035 on the shipped images made with the mean or median alone.
TOLERANCE = 0.04
#: An image is only a fair test if its best class leads the next by at least this many
#: tolerances; otherwise a device within tolerance could legitimately swap the two.
MARGIN_FACTOR = 2.5
#: ... and if the reference kernels, where the runtime has them, agree with the optimised
#: ones within this share of the tolerance (the rest is room for other devices).
AGREEMENT = 0.5


class Answer(BaseModel):
    """What the model said about one self-test image."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(description="The model's best class (before thresholds)")
    probabilities: list[float] = Field(description="One per manifest label, in label order")
    made_from: str | None = Field(default=None, description="The class the image depicts")


class Answers(BaseModel):
    """selftest/answers.json."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal[1] = 1
    model_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    tolerance: float = Field(default=TOLERANCE, gt=0, le=0.1)
    method: str = Field(default="", description="How the images were made")
    images: dict[str, Answer] = Field(min_length=1)


@dataclass(frozen=True)
class SelftestFailure:
    """One image that did not give its recorded answer."""

    image: str
    reason: str


@dataclass(frozen=True)
class SelftestResult:
    """The outcome of :func:`run_selftest`."""

    model: str
    version: str
    runtime: str
    checked: int
    max_difference: float
    failures: list[SelftestFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every image gave its recorded answer."""
        return not self.failures and self.checked > 0

    def summary(self) -> str:
        """One line for a log or a status message."""
        head = (f"self-test of {self.model} {self.version} on {self.runtime}: "
                f"{self.checked - len(self.failures)}/{self.checked} images as recorded "
                f"(largest difference {self.max_difference:.4f})")
        if self.failures:
            first = self.failures[0]
            head += f"; {first.image}: {first.reason}"
        return head

    def raise_for_failures(self) -> None:
        """PackageError "selftest_failed" unless :attr:`ok`."""
        if not self.ok:
            raise PackageError("selftest_failed", self.summary())


def images_in(pkg_dir: Path) -> list[str]:
    """The self-test images of a package, sorted, as paths relative to ``selftest/``."""
    folder = Path(pkg_dir) / SELFTEST_DIR
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_answers(pkg_dir: Path) -> Answers:
    """Parse selftest/answers.json; PackageError "selftest_failed" if absent or invalid."""
    path = Path(pkg_dir) / SELFTEST_DIR / ANSWERS_NAME
    try:
        return Answers.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise PackageError("selftest_failed", f"{pkg_dir}: no {SELFTEST_DIR}/{ANSWERS_NAME}; "
                           "the package has no self-test") from exc
    except (ValueError, ValidationError) as exc:
        reason = str(exc).splitlines()[0]
        raise PackageError("selftest_failed", f"{path}: invalid answers ({reason})") from exc


def compare(answer: Answer, labels: Sequence[str], probs: np.ndarray,
            tolerance: float) -> tuple[str | None, float]:
    """(why ``probs`` is not ``answer`` or None, the largest probability difference)."""
    if len(answer.probabilities) != len(labels) or probs.shape != (len(labels),):
        return (f"{len(answer.probabilities)} recorded probabilities for {len(labels)} labels",
                1.0)
    diff = np.abs(probs.astype(np.float64) - np.asarray(answer.probabilities))
    worst = int(np.argmax(diff))
    best = labels[int(np.argmax(probs))]
    if best != answer.label:
        return f"answered {best}, recorded {answer.label}", float(diff[worst])
    if diff[worst] > tolerance:
        return (f"{labels[worst]} probability {probs[worst]:.4f}, recorded "
                f"{answer.probabilities[worst]:.4f} (tolerance {tolerance})", float(diff[worst]))
    return None, float(diff[worst])


def _load(pkg_dir: Path, runtime: str | None) -> Classifier:
    try:
        return Classifier.load(pkg_dir, threads=1, runtime=runtime)
    except ModelError as exc:
        raise PackageError("selftest_failed", f"the model does not load: {exc}") from exc


def reference_classifier(classifier: Classifier) -> Classifier | None:
    """The same model on TFLite's reference kernels (no XNNPACK, no optimised int8 kernels),
    or None if this runtime cannot select them: a stand-in for another device's build."""
    _, cls = interpreter_class(classifier.runtime)
    resolver = getattr(sys.modules.get(cls.__module__), "OpResolverType", None)
    if resolver is None or not hasattr(resolver, "BUILTIN_REF"):
        return None
    path = classifier.model_dir / classifier.manifest.file
    try:
        interpreter = cls(model_path=str(path), num_threads=1,
                          experimental_op_resolver_type=resolver.BUILTIN_REF)
        interpreter.allocate_tensors()
    except (TypeError, ValueError, RuntimeError):
        return None
    return Classifier(classifier.model_dir, classifier.manifest, interpreter,
                      f"{classifier.runtime}-reference")


def unclear(probs: np.ndarray, tolerance: float, reference: np.ndarray | None = None
            ) -> str | None:
    """Why an image with these probabilities would be an unfair self-test, or None.

    Unfair: the best class leads the next by less than ``MARGIN_FACTOR * tolerance``, or the
    reference kernels' probabilities differ by more than ``AGREEMENT * tolerance``.
    """
    top = np.sort(probs)[::-1]
    if top[0] - top[1] < MARGIN_FACTOR * tolerance:
        return (f"the best two classes are only {top[0] - top[1]:.3f} apart "
                f"(at least {MARGIN_FACTOR * tolerance:.3f} needed)")
    if reference is not None:
        diff = float(np.abs(probs - reference).max())
        if diff > AGREEMENT * tolerance or int(np.argmax(reference)) != int(np.argmax(probs)):
            return f"the reference kernels differ by {diff:.3f}"
    return None


def run_selftest(pkg_dir: Path, *, runtime: str | None = None,
                 reference_kernels: bool = False) -> SelftestResult:
    """Classify every image in ``selftest/`` and compare with ``answers.json``.

    PackageError "selftest_failed" if the self-test cannot run at all (no answers, the model
    does not load here); otherwise a result listing each image that differs, and why.
    ``reference_kernels=True`` runs TFLite's reference kernels instead of the optimised ones
    (to try the tolerance as another device's build would; needs a runtime that has them).
    """
    pkg_dir = Path(pkg_dir)
    answers = read_answers(pkg_dir)
    classifier = _load(pkg_dir, runtime)
    if reference_kernels:
        reference = reference_classifier(classifier)
        if reference is None:
            raise PackageError("selftest_failed", f"{classifier.runtime} cannot select the "
                               "reference kernels")
        classifier = reference
    manifest = classifier.manifest
    failures: list[SelftestFailure] = []
    if answers.model_sha256 != manifest.sha256:
        failures.append(SelftestFailure(ANSWERS_NAME, "answers were recorded for another "
                                        "model file"))
    present = images_in(pkg_dir)
    failures += [SelftestFailure(name, "image missing") for name in answers.images
                 if name not in present]
    failures += [SelftestFailure(name, "no recorded answer") for name in present
                 if name not in answers.images]
    checked, worst = 0, 0.0
    for name, answer in answers.images.items():
        if name not in present:
            continue
        checked += 1
        try:
            probs, _ = classifier.probabilities(
                preprocess(pkg_dir / SELFTEST_DIR / name, classifier.size))
        except ImageError as exc:
            failures.append(SelftestFailure(name, str(exc)))
            continue
        reason, diff = compare(answer, manifest.labels, probs, answers.tolerance)
        worst = max(worst, diff)
        if reason:
            failures.append(SelftestFailure(name, reason))
    result = SelftestResult(model=manifest.name, version=manifest.version,
                            runtime=classifier.runtime, checked=checked,
                            max_difference=worst, failures=failures)
    (log.info if result.ok else log.warning)("%s", result.summary())
    return result


def record_answers(pkg_dir: Path, *, runtime: str | None = None, tolerance: float = TOLERANCE,
                   made_from: Mapping[str, str] | None = None, method: str = "") -> Answers:
    """Classify the images in ``selftest/`` and write ``answers.json``; the answers.

    PackageError "selftest_failed" if there are no images, or if an image is not a fair test
    (see :func:`unclear`: a device within tolerance could then rightly differ).
    """
    pkg_dir = Path(pkg_dir)
    names = images_in(pkg_dir)
    if not names:
        raise PackageError("selftest_failed", f"{pkg_dir / SELFTEST_DIR}: no images "
                           f"({', '.join(IMAGE_SUFFIXES)})")
    classifier = _load(pkg_dir, runtime)
    reference = reference_classifier(classifier)
    labels = classifier.manifest.labels
    images: dict[str, Answer] = {}
    for name in names:
        try:
            pixels = preprocess(pkg_dir / SELFTEST_DIR / name, classifier.size)
        except ImageError as exc:
            raise PackageError("selftest_failed", str(exc)) from exc
        probs, _ = classifier.probabilities(pixels)
        ref = reference.probabilities(pixels)[0] if reference else None
        problem = unclear(probs, tolerance, ref)
        if problem:
            raise PackageError("selftest_failed", f"{name}: {problem}; choose a clearer image")
        images[name] = Answer(label=labels[int(np.argmax(probs))],
                              probabilities=[round(float(p), 4) for p in probs],
                              made_from=(made_from or {}).get(name))
    answers = Answers(model_sha256=classifier.manifest.sha256, tolerance=tolerance,
                      method=method, images=images)
    path = pkg_dir / SELFTEST_DIR / ANSWERS_NAME
    text = json.dumps(answers.model_dump(mode="json"), indent=1)
    # One line per probability list: readable, and a third of the size.
    text = re.sub(r"\[\s+([-0-9.e,\s]*?)\s+\]", lambda m: "[" + " ".join(m[1].split()) + "]",
                  text)
    path.write_text(text + "\n", encoding="utf-8")
    log.info("recorded %d self-test answers for %s", len(images), read_manifest(pkg_dir).name)
    return answers
