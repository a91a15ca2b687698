"""An updater over a real data dir, real model folders and a real camera worker, for the tests.

Update items go to a recording ``emit`` that validates each against the contract's Update model
(the agent hands the same bodies to the durable outbox; tests/edge/updater/test_agent_updates.py
checks that path end to end).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agrifleet.contract import ModelOffer, Update
from agrifleet.edge.config import UpdatesConfig
from agrifleet.edge.inference.camera_types.folder import FolderCamera
from agrifleet.edge.inference.slot import ModelSlot
from agrifleet.edge.inference.worker import CameraWorker
from agrifleet.edge.items import Priority
from agrifleet.edge.updater import Updater
from tests.agrifleet.inference.conftest import leaf_jpeg

FINAL = {"active", "failed", "rolled_back"}


class Rig:
    """One node's updater; ``photo()`` has its camera classify one more live photo."""

    def __init__(self, root: Path, trusted: list[Path], configured: Path, **config: Any) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.config = UpdatesConfig(trusted_keys=trusted, retry_min_s=0.05, retry_max_s=0.2,
                                    **config)
        self.configured = configured
        self.updates: list[Update] = []
        self.other: list[tuple[str, dict[str, Any]]] = []
        self._changed = threading.Condition()
        self.photos = root / "photos"
        self.photos.mkdir(parents=True, exist_ok=True)
        self._n = 0
        self.updater: Updater | None = None
        self.slot = ModelSlot()
        self.worker: CameraWorker | None = None

    def emit(self, kind: str, body: dict[str, Any], priority: Priority) -> None:
        assert priority <= Priority.EVENT
        with self._changed:
            if kind == "update":
                stamped = {**body, "seq": len(self.updates), "ts": datetime.now(UTC),
                           "uptime_s": 0}
                self.updates.append(Update.model_validate(stamped))
            else:
                self.other.append((kind, body))
            self._changed.notify_all()

    def boot(self, now: Callable[[], datetime] | None = None) -> Updater:
        """A new start of the node: a fresh slot, updater and camera worker on the same disk."""
        self.slot = ModelSlot()
        self.updater = Updater(self.config, self.data_dir, self.emit, self.slot, self.configured,
                               now=now)
        self.updater.boot()
        camera = FolderCamera(type="folder", name="leafcam", path=self.photos,
                              model=self.configured, poll_s=0.05, settle_s=0)
        self.worker = CameraWorker(camera, self.emit, slot=self.slot)
        return self.updater

    def start(self, now: Callable[[], datetime] | None = None) -> Updater:
        updater = self.boot(now)
        updater.start()
        return updater

    def stop(self) -> None:
        if self.updater is not None:
            self.updater.stop()

    def offer(self, offer: ModelOffer | None) -> None:
        assert self.updater is not None
        self.updater.on_offer(b"" if offer is None else offer.model_dump_json().encode())

    def photo(self) -> None:
        """Drop one synthetic leaf photo and have the camera classify it."""
        assert self.worker is not None
        (self.photos / f"leaf-{self._n:04d}.jpg").write_bytes(leaf_jpeg(seed=self._n))
        self._n += 1
        assert self.worker.poll_once() == 1

    def wait_for(self, what: Callable[[list[Update]], bool], timeout: float = 60,
                 feed_photos: bool = False) -> list[Update]:
        """Block until ``what(updates)``; with feed_photos the camera keeps classifying."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            with self._changed:
                if what(self.updates):
                    return list(self.updates)
                if not feed_photos:
                    self._changed.wait(0.2)
            if feed_photos:
                self.photo()
            assert time.monotonic() < deadline, f"timed out; updates so far: {self.states()}"

    def wait_final(self, **kwargs: Any) -> Update:
        updates = self.wait_for(lambda us: any(u.state in FINAL for u in us), **kwargs)
        return next(u for u in updates if u.state in FINAL)

    def states(self) -> list[str]:
        return [u.state for u in self.updates]

    def models_on_disk(self) -> list[str]:
        root = self.data_dir / "models"
        return sorted(p.relative_to(root).as_posix() for p in root.glob("*/*")) if root.exists() \
            else []

    def wipe(self) -> None:
        shutil.rmtree(self.root)
