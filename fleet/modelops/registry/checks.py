"""What the fleet checks before it accepts a package: the same checks a node makes, and more.

In order: the archive unpacks safely (no absolute paths, ``..``, links or devices; size and
file-count limits), the signature is by a key the fleet trusts and not expired, every file's
size and sha256 match the signed manifest, the interpreter loads the model and its tensor
shapes and labels match the manifest, and the self-test images give the recorded answers.
Each refusal is a :class:`~agrifleet.package.PackageError` with a one-word reason.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agrifleet.manifest import Manifest, ModelError
from agrifleet.package import PackageError, receive_package

log = logging.getLogger(__name__)


def check_package(archive: Path, unpack_to: Path, trusted: Mapping[str, Any], *,
                  max_bytes: int, max_files: int) -> Manifest:
    """Unpack ``archive`` into the new folder ``unpack_to`` and check it; its manifest."""
    if not trusted:
        raise PackageError("unknown_key", "the fleet trusts no signing key: set "
                           "AGRIFLEET_MODEL_KEYS to the public keys of your model packages")
    # The node's own sequence (unpack safely, verify), so both refuse the same packages.
    manifest = receive_package(archive, unpack_to, trusted, max_bytes=max_bytes,
                               max_files=max_files)
    check_model(unpack_to)
    return manifest


def check_model(folder: Path) -> None:
    """The interpreter loads the model with the manifest's shapes and labels; self-test passes."""
    from agrifleet.inference.classifier import Classifier
    from agrifleet.inference.selftest import run_selftest

    try:
        Classifier.load(folder, threads=1)
    except ModelError as exc:
        raise PackageError("invalid_model", str(exc)) from exc
    run_selftest(folder).raise_for_failures()
