"""Package files under ``data_dir/models/<name>/<version>/``: the archive and its unpacked folder.

An upload is written to ``models/.incoming/<random>/`` first, checked there, then renamed into
place in one step (with the folders fsynced), so a crash leaves either nothing or a complete
package; what a crash left in ``.incoming`` is removed at a later start once it is hours old (a
younger folder may be another fleet process's upload in progress).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

ARCHIVE_NAME = "package.tar.gz"
#: An upload folder untouched this long is a crash's leftover (uploads take minutes at most).
STALE_UPLOAD_S = 6 * 3600
UNPACKED_NAME = "package"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(Path(folder) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(folder))


class TooLarge(ValueError):
    """The upload is larger than the registry accepts."""


class PackageStore:
    """The ``models/`` folder of the fleet's data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "models"
        self.incoming = self.root / ".incoming"

    def clean_incoming(self, older_than_s: float = STALE_UPLOAD_S) -> None:
        """Remove uploads a crash left half-done: those untouched for ``older_than_s``. A
        younger one may be another fleet process's upload in progress (several API processes
        share the data directory), which must keep its files."""
        if not self.incoming.is_dir():
            return
        cutoff = time.time() - older_than_s
        for entry in self.incoming.iterdir():
            try:
                if entry.lstat().st_mtime < cutoff:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            except FileNotFoundError:  # removed by another process at the same time
                continue

    def folder(self, name: str, version: str) -> Path:
        return self.root / name / version

    def archive(self, name: str, version: str) -> Path:
        return self.folder(name, version) / ARCHIVE_NAME

    def new_upload(self) -> Path:
        """A fresh staging folder of this upload's own: the archive is written and unpacked
        there, so a retry or another upload at the same time never touches its files."""
        self.incoming.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=secrets.token_hex(4), dir=self.incoming))

    def discard(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    def commit_staging(self, staging: Path, name: str, version: str) -> Path:
        """Move a checked upload into ``models/<name>/<version>/`` atomically; that folder."""
        final = self.folder(name, version)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():  # left by a crash between rename and the database commit
            shutil.rmtree(final)
        _fsync_tree(staging)
        os.rename(staging, final)
        _fsync_dir(final.parent)
        return final

    def remove(self, name: str, version: str) -> None:
        shutil.rmtree(self.folder(name, version), ignore_errors=True)
