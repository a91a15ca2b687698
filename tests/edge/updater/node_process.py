"""A light node for the SIGKILL tests: an updater and one folder camera in their own process.

``python -m tests.edge.updater.node_process SPEC.json`` boots the updater on the spec's data dir,
hands it the offer, feeds its camera synthetic photos and exits 0 once the update has ended
(active, failed or rolled back), printing the final state. Update items are appended, one JSON
line each, to the spec's ``log`` file. Killing it at any moment is the point.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from agrifleet.contract import ModelOffer
from agrifleet.edge.config import UpdatesConfig
from agrifleet.edge.inference.camera_types.folder import FolderCamera
from agrifleet.edge.inference.slot import ModelSlot
from agrifleet.edge.inference.worker import CameraWorker
from agrifleet.edge.items import Priority
from agrifleet.edge.updater import Updater
from tests.agrifleet.inference.conftest import leaf_jpeg


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    data_dir = Path(spec["data_dir"])
    log = Path(spec["log"])

    def emit(kind: str, body: dict[str, Any], priority: Priority) -> None:
        if kind != "update":
            return
        with log.open("a") as f:
            f.write(json.dumps({"kind": kind, **body}) + "\n")

    config = UpdatesConfig.model_validate(spec["config"])
    slot = ModelSlot()
    updater = Updater(config, data_dir, emit, slot, Path(spec["configured"]))
    updater.boot()
    photos = Path(spec["photos"])
    photos.mkdir(parents=True, exist_ok=True)
    camera = FolderCamera(type="folder", name="leafcam", path=photos,
                          model=Path(spec["configured"]), poll_s=0.05, settle_s=0)
    worker = CameraWorker(camera, emit, slot=slot)
    updater.start()
    updater.on_offer(json.dumps(spec["offer"]).encode())
    offer = ModelOffer.model_validate(spec["offer"])
    n = 0
    while True:
        state = updater.state
        if state.last is not None and state.last.sha256 == offer.sha256 and state.trial is None:
            print(state.last.state, state.last.reason or "")
            updater.stop()
            return 0
        (photos / f"{time.monotonic_ns()}-{n}.jpg").write_bytes(leaf_jpeg(seed=n % 7))
        n += 1
        worker.poll_once()
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
