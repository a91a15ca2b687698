"""Classify scouting photos with the farm's active model, loaded once per model version.

The active model is the package of the newest completed rollout in the registry (what the
nodes were moved to); with none, or when its folder cannot be loaded, the model shipped with
agrifleet (:mod:`models.shipped`). A :class:`~agrifleet.inference.classifier.Classifier` is
not thread-safe: each cached one has its own lock, and the route calls :meth:`Scout.classify`
in a worker thread.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, col, select

from agrifleet.fleet.modelops.registry.storage import UNPACKED_NAME, PackageStore
from agrifleet.fleet.modelops.registry.tables import ModelPackage
from agrifleet.fleet.modelops.rollouts.tables import Rollout
from agrifleet.inference.classifier import Classifier, Prediction
from agrifleet.manifest import ModelError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelChoice:
    name: str
    version: str
    folder: Path


def shipped_model() -> ModelChoice:
    from agrifleet.models.shipped import DEFAULT_NAME, DEFAULT_VERSION, default_model_dir

    return ModelChoice(DEFAULT_NAME, DEFAULT_VERSION, default_model_dir())


def active_model(session: Session, data_dir: Path) -> ModelChoice:
    """The newest completed rollout's package, else the shipped model."""
    row = session.exec(
        select(ModelPackage.name, ModelPackage.version)
        .join(Rollout, col(Rollout.package_id) == col(ModelPackage.id))
        .where(col(Rollout.state) == "completed")
        .order_by(col(Rollout.updated_at).desc(), col(Rollout.id).desc())
    ).first()
    if row is None:
        return shipped_model()
    name, version = row
    return ModelChoice(name, version, PackageStore(data_dir).folder(name, version) / UNPACKED_NAME)


class Scout:
    """Loaded classifiers by model folder, each used by one thread at a time."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._lock = threading.Lock()
        self._loaded: dict[Path, tuple[Classifier, threading.Lock]] = {}

    def _classifier(self, choice: ModelChoice) -> tuple[Classifier, threading.Lock]:
        with self._lock:
            found = self._loaded.get(choice.folder)
            if found is None:
                try:
                    classifier = Classifier.load(choice.folder, threads=self.threads)
                except ModelError:
                    fallback = shipped_model()
                    if choice.folder == fallback.folder:
                        raise
                    log.warning("active model %s %s cannot be loaded from %s; scouting with "
                                "the shipped model", choice.name, choice.version, choice.folder)
                    classifier = Classifier.load(fallback.folder, threads=self.threads)
                found = (classifier, threading.Lock())
                self._loaded[choice.folder] = found
            return found

    def classify(self, choice: ModelChoice, photo: bytes) -> tuple[Prediction, Classifier]:
        """The prediction for ``photo`` (ImageError if unreadable) and the classifier used."""
        classifier, lock = self._classifier(choice)
        with lock:
            return classifier.classify(photo), classifier
