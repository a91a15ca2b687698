"""Which model folder the cameras run, and the candidate they run in shadow, swapped at run time.

The updater changes the slot; each camera worker looks at it between photos and loads its own
classifier (a Classifier is not thread-safe) when the folder changed. Nothing here imports the
updater: it talks to the workers through this small, locked object and two callbacks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # not a cycle: keeps numpy out of agents without cameras
    from agrifleet.inference.classifier import Prediction

#: ``shadow(current, candidate)``: one live photo classified by both models.
ShadowSink = Callable[["Prediction", "Prediction"], None]


@dataclass(frozen=True)
class SlotView:
    """What a worker should run now; ``generation`` grows with every change."""

    generation: int
    model_dir: Path | None
    candidate_dir: Path | None
    shadow: ShadowSink | None


class ModelSlot:
    """Thread-safe pointer to the active model folder (None: each camera's configured one)."""

    def __init__(self, model_dir: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._view = SlotView(0, model_dir, None, None)
        #: Called with (model_dir, exception) when a worker cannot load the slot's model.
        self.on_load_failed: Callable[[Path, Exception], None] | None = None
        #: Called with the candidate folder when a worker cannot load it for the shadow run.
        self.on_candidate_failed: Callable[[Path, Exception], None] | None = None
        #: Called with the model folder after a photo was classified with it.
        self.on_classified: Callable[[Path], None] | None = None

    def view(self) -> SlotView:
        with self._lock:
            return self._view

    def set_model(self, model_dir: Path | None) -> None:
        """Switch every camera to ``model_dir`` from its next photo (and end any shadow run)."""
        with self._lock:
            v = self._view
            self._view = SlotView(v.generation + 1, model_dir, None, None)

    def start_shadow(self, candidate_dir: Path, sink: ShadowSink) -> None:
        """Have every camera also classify its photos with ``candidate_dir`` and tell ``sink``."""
        with self._lock:
            v = self._view
            self._view = SlotView(v.generation + 1, v.model_dir, candidate_dir, sink)

    def end_shadow(self) -> None:
        with self._lock:
            v = self._view
            self._view = SlotView(v.generation + 1, v.model_dir, None, None)
