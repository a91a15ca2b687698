"""A camera worker: takes photos from one source, classifies them, emits detections."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from agrifleet.edge.inference.config import CameraConfig
from agrifleet.edge.inference.detection import detection_body
from agrifleet.edge.inference.slot import ModelSlot, ShadowSink
from agrifleet.edge.inference.sources import PhotoFolder, Source, SourceError
from agrifleet.edge.items import Emit, Priority
from agrifleet.inference.classifier import Classifier, Prediction
from agrifleet.inference.preprocess import ImageError
from agrifleet.manifest import ModelError

log = logging.getLogger(__name__)


def model_dir_of(camera: CameraConfig) -> Path:
    """The camera's model folder, or the shipped default model."""
    if camera.model is not None:
        return camera.model
    from agrifleet.models.shipped import default_model_dir

    return default_model_dir()


class CameraWorker:
    """Classifies photos from ``camera`` and hands each detection to ``emit``."""

    def __init__(
        self, camera: CameraConfig, emit: Emit, *, classifier: Classifier | None = None,
        runtime: str | None = None, slot: ModelSlot | None = None,
    ):
        self.camera = camera
        self._emit = emit
        self._classifier = classifier
        self._runtime = runtime
        self._slot = slot
        self._generation = -1
        self._candidate: Classifier | None = None
        self._shadow: ShadowSink | None = None
        self._source: Source = camera.open_source()
        self.detections = 0
        self.unreadable = 0
        self.unrecorded = 0  # photos classified whose detection the outbox did not take

    @property
    def classifier(self) -> Classifier:
        """The camera's model, loaded and verified on first use (ModelError if unusable)."""
        if self._classifier is None:
            self._classifier = self._load(model_dir_of(self.camera))
        return self._classifier

    def _load(self, model_dir: Path) -> Classifier:
        return Classifier.load(model_dir, self.camera.threads, self._runtime)

    def _refresh(self) -> Classifier:
        """Pick up a model swapped in the slot since the last photo; the classifier to use now.

        A slot model that cannot be loaded is reported to the slot and the worker keeps the
        model it had (or its configured one); a candidate that cannot be loaded is reported and
        the photo is classified by the current model only.
        """
        slot = self._slot
        if slot is None:
            return self.classifier
        view = slot.view()
        if view.generation == self._generation:
            return self.classifier
        self._generation = view.generation
        wanted = view.model_dir or model_dir_of(self.camera)
        if self._classifier is None or self._classifier.model_dir != wanted:
            try:
                self._classifier = self._load(wanted)
            except ModelError as exc:
                if view.model_dir is None:
                    raise
                log.error("camera %s: cannot load %s: %s", self.camera.name, wanted, exc)
                if slot.on_load_failed is not None:
                    slot.on_load_failed(view.model_dir, exc)
        self._candidate, self._shadow = None, None
        if view.candidate_dir is not None and view.shadow is not None:
            try:
                self._candidate = self._load(view.candidate_dir)
                self._shadow = view.shadow
            except ModelError as exc:
                log.warning("camera %s: candidate %s unusable: %s", self.camera.name,
                            view.candidate_dir, exc)
                if slot.on_candidate_failed is not None:
                    slot.on_candidate_failed(view.candidate_dir, exc)
        return self.classifier

    @property
    def interval_s(self) -> float:
        """Seconds to wait between polls."""
        return self.camera.poll_every_s()

    def poll_once(self) -> int:
        """Take what the source has now (a folder's ready files, or one capture); count emitted.

        A camera that gives no image raises SourceError; an unreadable image is reported and
        skipped; a photo whose detection cannot be recorded is left in place and not handed
        out again by this process; a model that cannot be used raises ModelError.
        """
        classifier = self._refresh()
        source = self._source
        if isinstance(source, PhotoFolder):
            emitted = 0
            for path in source.ready():
                classifier = self._refresh()  # a swap takes effect between photos
                try:
                    image = source.read(path)
                except SourceError as exc:
                    log.warning("camera %s: %s", self.camera.name, exc)
                    continue
                try:
                    ok = self._handle(classifier, image, path.name)
                except (ValueError, RuntimeError, OSError) as exc:  # not the photo's fault?
                    log.warning("camera %s: %s failed: %s", self.camera.name, path.name, exc)
                    ok = False
                except Exception as exc:  # its detection could not be recorded: never loop on it
                    self.unrecorded += 1
                    log.warning("camera %s: %s classified but not recorded (%s: %s); it stays "
                                "in the folder until the agent restarts", self.camera.name,
                                path.name, type(exc).__name__, exc)
                    source.keep(path)
                    continue
                if ok:
                    emitted += 1
                    source.done(path)
                else:
                    source.failed(path)
            return emitted
        image = source.capture()
        return int(self._handle(classifier, image, "snapshot"))

    def _handle(self, classifier: Classifier, image: bytes, name: str) -> bool:
        """Classify and emit one image; False (after reporting it) if it is unreadable."""
        try:
            prediction = classifier.classify(image)
        except ImageError as exc:
            self.unreadable += 1
            log.warning("camera %s: skipping %s: %s", self.camera.name, name, exc)
            self._emit("event", {
                "severity": "warning", "code": "image_unreadable",
                "message": f"camera {self.camera.name}: {name}: {exc}"[:1024],
            }, Priority.EVENT)
            return False
        self._report(classifier, prediction, image, name)
        self._run_shadow(prediction, image, name)
        if self._slot is not None and self._slot.on_classified is not None:
            self._slot.on_classified(classifier.model_dir)
        return True

    def _run_shadow(self, current: Prediction, image: bytes, name: str) -> None:
        """Classify the photo with the candidate too and hand both answers to the shadow sink."""
        if self._candidate is None or self._shadow is None:
            return
        try:
            candidate = self._candidate.classify(image)
        except (ImageError, ValueError, RuntimeError) as exc:
            log.warning("camera %s: candidate failed on %s: %s", self.camera.name, name, exc)
            return
        self._shadow(current, candidate)

    def _report(self, classifier: Classifier, p: Prediction, image: bytes, name: str) -> None:
        log.info("camera %s: %s → %s (%.2f, %.0f ms)", self.camera.name, name, p.label,
                 p.confidence, p.inference_ms)
        if p.healthy and not self.camera.report_healthy:
            return
        body = detection_body(p, classifier.manifest, image, self.camera.name,
                              self.camera.thumbnail_max_bytes)
        self._emit("detection", body, Priority.DETECTION)
        self.detections += 1

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set; camera hiccups are logged, an unusable model stops it."""
        while not stop.is_set():
            try:
                self.poll_once()
            except SourceError as exc:
                log.warning("camera %s: %s", self.camera.name, exc)
            except ModelError as exc:
                log.error("camera %s stopped: %s", self.camera.name, exc)
                self._emit("event", {
                    "severity": "alert", "code": "model_unusable",
                    "message": f"camera {self.camera.name}: {exc}"[:1024],
                }, Priority.ALERT)
                return
            except Exception:
                log.exception("camera %s: unexpected error; retrying", self.camera.name)
            stop.wait(self.interval_s)
