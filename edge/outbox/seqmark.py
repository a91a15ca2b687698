"""The highest seq handed out in this boot, kept in RAM outside the outbox file.

Seqs must never repeat within a boot, even when the outbox file could not record the last ones
(disk full, read-only card) or was replaced by a fresh one. The mark lives in a RAM file system
(``/dev/shm`` by default) whose contents last exactly as long as the boot, so a restarted agent
starts above every seq its predecessor used, and a reboot (new boot id) starts afresh.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)
_WIDTH = 20


class SeqMark:
    """One small file per (outbox, device, boot) holding the next unused seq."""

    def __init__(self, folder: Path | None, outbox: Path, device_id: str, boot_id: str) -> None:
        self.path: Path | None = None
        self._fd: int | None = None
        self._value = 0
        if folder is None:
            return
        key = f"{outbox.resolve()}\0{device_id}\0{boot_id}".encode()
        self.path = folder / f"agrifleet-seq-{hashlib.sha256(key).hexdigest()[:16]}"
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            raw = os.pread(self._fd, _WIDTH, 0).strip()
            self._value = int(raw) if raw else 0
        except (OSError, ValueError) as exc:
            log.warning("cannot keep the seq mark in %s (%s): after a restart while the outbox "
                        "could not be written, seqs might be used twice", folder, exc)
            self._close()

    @property
    def value(self) -> int:
        """The next seq not yet handed out according to the mark (0 if none)."""
        return self._value

    def advance(self, next_seq: int) -> None:
        """Record that every seq below ``next_seq`` may have been handed out."""
        if self._fd is None or next_seq <= self._value:
            return
        try:
            os.pwrite(self._fd, str(next_seq).rjust(_WIDTH).encode(), 0)
            self._value = next_seq
        except OSError as exc:
            log.warning("cannot update the seq mark %s: %s", self.path, exc)
            self._close()

    def _close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
