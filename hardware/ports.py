"""Find serial adapters by stable name: /dev/serial/by-id links survive a replug, ttyUSBn do not."""

from __future__ import annotations

import os
from pathlib import Path

#: Where udev keeps one stable link per USB serial adapter (vendor, model, serial number).
BY_ID_DIR = Path("/dev/serial/by-id")


def resolve(path: str) -> str:
    """The device node a configured path points at now (follows by-id symlinks)."""
    return os.path.realpath(path)


def list_by_id(directory: Path = BY_ID_DIR) -> dict[str, str]:
    """Stable link → current device node, for every adapter plugged in (empty when none)."""
    if not directory.is_dir():
        return {}
    return {str(link): resolve(str(link)) for link in sorted(directory.iterdir())}


def stable_path(device: str, directory: Path = BY_ID_DIR) -> str:
    """The by-id link for a device node such as /dev/ttyUSB0, or the node itself if it has none."""
    target = resolve(device)
    for link, node in list_by_id(directory).items():
        if node == target:
            return link
    return device


def describe(path: str) -> str:
    """``path`` plus the node it resolves to, for log lines."""
    target = resolve(path)
    return path if target == path else f"{path} -> {target}"
