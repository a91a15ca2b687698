"""Where an update lives on the node's disk, and the housekeeping that keeps it tidy.

``<data_dir>/models/<name>/<version>/`` holds installed packages (only the current and the
previous one are kept); ``<data_dir>/updates/`` holds ``state.json``, the partial download
``<sha256>.part`` and ``staging-*`` folders being verified. Nothing outside these is touched, so
the shipped model folder is never deleted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from agrifleet.contract import ModelOffer
from agrifleet.edge.updater.install import remove_tree
from agrifleet.manifest import Manifest
from agrifleet.package import MAX_BYTES


class ModelStore:
    """Paths of one node's updates and the clean-up rules; ``keep`` are folders in use."""

    def __init__(self, data_dir: Path) -> None:
        self.models_root = data_dir / "models"
        self.work_dir = data_dir / "updates"

    def part(self, offer: ModelOffer) -> Path:
        return self.work_dir / f"{offer.sha256}.part"

    def staging(self, offer: ModelOffer) -> Path:
        return self.work_dir / f"staging-{offer.sha256[:16]}"

    def target(self, manifest: Manifest) -> Path:
        return self.models_root / manifest.name / manifest.version

    def room_for(self, offer: ModelOffer) -> str | None:
        """Why the package cannot fit (its size, or the free disk), or None."""
        if offer.size > MAX_BYTES:
            return f"too_large: the archive is {offer.size} bytes (at most {MAX_BYTES})"
        self.work_dir.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.work_dir).free
        part = self.part(offer)
        have = part.stat().st_size if part.exists() else 0
        need = (offer.size - have) + 3 * offer.size  # the archive, unpacked twice over
        if free < need:
            return f"disk: {free} bytes free under {self.work_dir}, the update needs {need}"
        return None

    def clean(self, offer: ModelOffer, keep: set[Path]) -> None:
        """Remove everything of this offer's update that is not in use."""
        self.part(offer).unlink(missing_ok=True)
        remove_tree(self.staging(offer))
        target = self.models_root / offer.name / offer.version
        if target.exists() and target.resolve() not in keep:
            remove_tree(target)

    def tidy(self, job: ModelOffer | None, keep: set[Path]) -> None:
        """At start: remove what a killed update left that ``job`` (if any) will not use."""
        keep_part = self.part(job).name if job is not None else None
        if self.work_dir.is_dir():
            for leftover in self.work_dir.iterdir():
                if leftover.name.endswith(".part") and leftover.name != keep_part:
                    leftover.unlink(missing_ok=True)
                elif leftover.name.startswith("staging-"):
                    remove_tree(leftover)
        if job is None:
            self.prune(keep)

    def prune(self, keep: set[Path]) -> None:
        """Remove model folders that are not in ``keep``."""
        for folder in self.models_root.glob("*/*"):
            if folder.is_dir() and folder.resolve() not in keep:
                remove_tree(folder)
