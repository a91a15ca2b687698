"""The shadow period: the candidate model classifies the same live photos as the current one.

Camera workers hand each pair of answers to :class:`ShadowRun` (thread-safe); the updater waits
until it has enough photos or time runs out, then judges the figures against the offer's limits.
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from agrifleet.contract import GateFigures, GateLimits
from agrifleet.edge.inference.slot import ModelSlot

if TYPE_CHECKING:  # not a cycle: keeps numpy out of agents without cameras
    from agrifleet.inference.classifier import Prediction


class ShadowFailed(Exception):
    """The candidate missed the gate or could not run; ``reason`` and the ``figures``."""

    def __init__(self, reason: str, figures: GateFigures) -> None:
        super().__init__(reason)
        self.reason = reason
        self.figures = figures


def run_shadow(slot: ModelSlot, candidate: Path, images: int, max_s: float, limits: GateLimits,
               stop: threading.Event, *, cameras: bool = True) -> GateFigures | None:
    """Have the cameras run ``candidate`` beside the current model on ``images`` live photos
    (at most ``max_s`` seconds); the figures, or ShadowFailed. None when no period was run
    (``images`` 0, or a node without cameras and an offer without limits)."""
    run = ShadowRun(images)
    if images <= 0:
        return None
    if not cameras:
        missed = judge(run.figures(), limits)
        if missed is not None:
            raise ShadowFailed(f"{missed} (the node has no camera)", run.figures())
        return None
    slot.on_candidate_failed = lambda _d, exc: run.fail(f"model_unusable: {exc}")
    slot.start_shadow(candidate, run)
    try:
        figures = run.wait(max_s, stop)
    finally:
        slot.end_shadow()
        slot.on_candidate_failed = None
    if run.failure is not None:
        raise ShadowFailed(run.failure, figures)
    missed = judge(figures, limits)
    if missed is not None:
        raise ShadowFailed(missed, figures)
    return figures


class ShadowRun:
    """Collects agreement, confidence, uncertain rate and latency of a candidate model."""

    def __init__(self, images: int) -> None:
        self.wanted = images
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._agree = 0
        self._either = 0
        self._both = 0
        self._confidence: list[float] = []
        self._uncertain = 0
        self._latency: list[float] = []
        self.failure: str | None = None

    def __call__(self, current: Prediction, candidate: Prediction) -> None:
        with self._changed:
            if len(self._confidence) >= self.wanted:
                return
            # Two "uncertain" answers are no agreement: the new model would not be tested on
            # exactly the photos the old one could not read.
            either = not (current.uncertain and candidate.uncertain)
            both = not current.uncertain and not candidate.uncertain
            self._either += int(either)
            self._both += int(both)
            self._agree += int(both and current.label == candidate.label)
            self._confidence.append(candidate.confidence)
            self._uncertain += int(candidate.uncertain)
            self._latency.append(candidate.inference_ms)
            self._changed.notify_all()

    def fail(self, reason: str) -> None:
        """The candidate cannot run here (it does not load, say): end the period now."""
        with self._changed:
            self.failure = reason
            self._changed.notify_all()

    def wait(self, max_s: float, stop: threading.Event, step_s: float = 0.5) -> GateFigures:
        """Block until ``wanted`` photos, a failure, ``stop`` or ``max_s`` seconds; the figures."""
        deadline = time.monotonic() + max_s
        with self._changed:
            while (len(self._confidence) < self.wanted and self.failure is None
                   and not stop.is_set()):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(min(step_s, left))
        return self.figures()

    def figures(self) -> GateFigures:
        with self._lock:
            n = len(self._confidence)
            return GateFigures(
                images=n,
                agreement=round(self._agree / self._either, 4) if self._either else 0.0,
                answered=self._either,
                both_answered=round(self._both / n, 4) if n else 0.0,
                mean_confidence=round(statistics.fmean(self._confidence), 4) if n else 0.0,
                uncertain_rate=round(self._uncertain / n, 4) if n else 0.0,
                latency_ms=round(statistics.median(self._latency), 2) if n else 0.0,
            )


def judge(figures: GateFigures, limits: GateLimits) -> str | None:
    """None when the figures are within every set limit, else which limits were missed."""
    missed = []
    if figures.images == 0:
        if any(v is not None for v in limits.model_dump().values()):
            return "shadow gate: no live photo was classified in the shadow period"
        return None
    if limits.min_agreement is not None and figures.agreement < limits.min_agreement:
        missed.append(f"agreement {figures.agreement:.3f} < {limits.min_agreement}")
    if (limits.min_mean_confidence is not None
            and figures.mean_confidence < limits.min_mean_confidence):
        missed.append(f"mean confidence {figures.mean_confidence:.3f} < "
                      f"{limits.min_mean_confidence}")
    if limits.max_uncertain_rate is not None and figures.uncertain_rate > limits.max_uncertain_rate:
        missed.append(f"uncertain rate {figures.uncertain_rate:.3f} > {limits.max_uncertain_rate}")
    if limits.max_latency_ms is not None and figures.latency_ms > limits.max_latency_ms:
        missed.append(f"latency {figures.latency_ms:.1f} ms > {limits.max_latency_ms} ms")
    if missed:
        return f"shadow gate ({figures.images} photos): " + "; ".join(missed)
    return None
