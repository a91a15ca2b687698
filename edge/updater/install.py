"""From a downloaded archive to a verified model folder under ``<data_dir>/models/``.

Nothing is unpacked before the archive's size and sha256 match the offer (download.py); then
:func:`agrifleet.package.receive_package` (the same sequence the fleet runs on upload): unpacked
safely into a fresh staging folder, the signature and every file checked against the node's
trusted keys, and the upgrade rule checked against the running model. Only a package that passes
all of that is moved (one rename) to ``models/<name>/<version>/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from agrifleet.contract import ModelOffer
from agrifleet.edge.updater.state import fsync_dir
from agrifleet.manifest import Manifest
from agrifleet.package import PackageError, receive_package


class InstallFailed(Exception):
    """The package is refused; ``reason`` is one line for the fleet."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def unpack_and_verify(archive: Path, offer: ModelOffer, staging: Path,
                      trusted: Mapping[str, Any], current: Manifest | None,
                      now: datetime) -> Manifest:
    """Unpack into ``staging`` (a leftover of a killed run is removed first) and verify it."""
    remove_tree(staging)
    try:
        manifest = receive_package(archive, staging, trusted, current=current,
                                   rollback=offer.rollback, now=now)
        if (manifest.name, manifest.version) != (offer.name, offer.version):
            raise PackageError("wrong_model", f"the package is {manifest.name} "
                               f"{manifest.version}, the offer says {offer.name} {offer.version}")
    except PackageError as exc:
        remove_tree(staging)
        raise InstallFailed(f"{exc.reason}: {exc}") from None
    return manifest


def place(staging: Path, target: Path, keep: set[Path]) -> Path:
    """Move a verified package to ``target`` (replacing a leftover copy unless it is in use)."""
    if target.exists():
        if target.resolve() in keep:
            raise InstallFailed(f"{target} is in use and cannot be replaced")
        remove_tree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(target)
    fsync_dir(target.parent)
    return target


def remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def selftest(pkg_dir: Path) -> str | None:
    """None when the package's self-test images give its recorded answers, else why not."""
    from agrifleet.inference.selftest import run_selftest

    try:
        result = run_selftest(pkg_dir)
    except PackageError as exc:
        return f"{exc.reason}: {exc}"
    except Exception as exc:  # a broken runtime or model on this node: the self-test failed
        return f"selftest_failed: {type(exc).__name__}: {exc}"
    if result.ok:
        return None
    return f"selftest_failed: {result.summary()}"
