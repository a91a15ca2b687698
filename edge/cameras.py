"""Camera workers (edge/inference) on their own threads, started and stopped with the agent."""

from __future__ import annotations

import logging
import threading

from agrifleet.edge.inference.config import CameraConfig
from agrifleet.edge.inference.slot import ModelSlot
from agrifleet.edge.items import Emit

log = logging.getLogger(__name__)


class Cameras:
    """One thread per configured camera, each running an inference CameraWorker."""

    def __init__(self, cameras: list[CameraConfig], emit: Emit,
                 slot: ModelSlot | None = None) -> None:
        self._cameras = cameras
        self._emit = emit
        #: Which model the workers run; the updater swaps it at run time.
        self.slot = slot
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        from agrifleet import images
        from agrifleet.edge.inference.worker import (
            CameraWorker,  # numpy, Pillow, LiteRT: only if used
        )

        images.configure(images.ImageLimits())  # a phone's formats, the default pixel ceiling
        for camera in self._cameras:
            worker = CameraWorker(camera, self._emit, slot=self.slot)
            thread = threading.Thread(target=worker.run, args=(self._stop,),
                                      name=f"camera-{camera.name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("%d camera(s) started", len(self._threads))

    def stop(self, timeout: float = 30.0) -> None:
        """Ask every worker to stop after its current photo and wait for it."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
