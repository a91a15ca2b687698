"""Fetch a package archive over HTTP(S), resuming with Range after a dropped link.

The partial file lives beside the updater's state, named by the archive's sha256, and its size
is the offset to resume from (flushed every chunk), so a node killed or cut off mid-download asks
only for the bytes it lacks. The body is streamed through :mod:`agrifleet.http` and written as
it arrives, so the bytes that came before a drop are kept.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from agrifleet import http

log = logging.getLogger(__name__)

CHUNK = 16 * 1024


class DownloadFailed(Exception):
    """The download cannot succeed (refused, wrong size or digest); ``reason`` is one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DownloadInterrupted(Exception):
    """The link dropped or the server hiccuped; try again later from the same offset."""


class DownloadCancelled(Exception):
    """The offer was withdrawn while downloading."""


@dataclass(frozen=True)
class Request:
    url: str
    token: str
    size: int
    sha256: str
    max_kbps: float | None = None
    timeout_s: float = 30.0
    ca_file: Path | None = None


Progress = Callable[[int], None]


def fetch_once(req: Request, part: Path, cancel: threading.Event,
               progress: Progress | None = None) -> None:
    """Append the missing bytes to ``part`` until it holds ``req.size`` bytes.

    Raises DownloadInterrupted on a dropped link or server error (call again), DownloadFailed
    when the server refuses or sends more than the offer said, DownloadCancelled on ``cancel``.
    """
    offset = part.stat().st_size if part.exists() else 0
    if offset > req.size:
        part.unlink()
        offset = 0
    if offset == req.size:
        return
    if not req.url.startswith(("http://", "https://")):
        raise DownloadFailed(f"download address {req.url[:80]!r} is not http:// or https://")
    headers = {"Authorization": f"Bearer {req.token}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        with (http.client(timeout_s=req.timeout_s, ca_file=req.ca_file) as client,
              http.stream(client, "GET", req.url, headers=headers) as response):
            if offset and response.status_code != 206:  # the server ignored Range: start again
                offset = 0
            offset = _write(req, http.body(response), part, offset, cancel, progress)
    except http.HttpError as exc:
        raise _failure(exc, req, part, offset) from None
    if offset < req.size:
        raise DownloadInterrupted(f"link dropped at byte {offset} of {req.size}")


def _write(req: Request, body: Iterator[bytes], part: Path, offset: int,
           cancel: threading.Event, progress: Progress | None) -> int:
    """Append ``body`` to ``part`` from ``offset``, CHUNK bytes at a time; the new offset.

    Each chunk is flushed before the next is read, so a drop keeps every byte that arrived.
    """
    budget = _Pacer(req.max_kbps)
    try:
        with part.open("ab" if offset else "wb") as f:
            f.seek(offset)
            for piece in body:
                for start in range(0, len(piece), CHUNK):
                    if cancel.is_set():
                        raise DownloadCancelled()
                    chunk = piece[start:start + CHUNK]
                    offset += len(chunk)
                    if offset > req.size:
                        raise DownloadFailed(f"the server sent more than the offer's "
                                             f"{req.size} bytes")
                    try:
                        f.write(chunk)
                        f.flush()
                    except OSError as exc:  # our disk, not the link: retrying will not help
                        raise DownloadFailed(f"cannot write {part}: {exc.strerror or exc}") \
                            from None
                    if progress is not None:
                        progress(offset)
                    budget.spend(len(chunk), cancel)
            os.fsync(f.fileno())
    except http.HttpError as exc:  # the link dropped while the body was read
        raise DownloadInterrupted(f"link dropped at byte {offset}: {exc.reason}") from None
    except OSError as exc:  # includes socket timeouts and resets
        raise DownloadInterrupted(f"link dropped at byte {offset}: {exc}") from None
    return offset


def _failure(exc: http.HttpError, req: Request, part: Path,
             offset: int) -> DownloadFailed | DownloadInterrupted:
    """What a refused or unreachable download means for the updater: give up, or retry."""
    status = exc.status
    if status is None:
        if exc.untrusted:
            return DownloadFailed(f"the fleet's certificate is not trusted ({exc.reason}); set "
                                  "[updates] ca_file to its CA")
        return DownloadInterrupted(f"cannot reach {http.shown(req.url)}: {exc.reason}")
    if 300 <= status < 400:  # the token is for the fleet only: never follow elsewhere
        return DownloadFailed(f"download refused: the fleet redirected (HTTP {status}); "
                              "the node does not follow redirects")
    if status == 416:  # our partial file no longer fits what the fleet has
        part.unlink(missing_ok=True)
        return DownloadInterrupted("range not satisfiable; starting again")
    if status in (401, 403, 404, 410):
        return DownloadFailed(f"download refused: {exc.reason}")
    return DownloadInterrupted(exc.reason)


def check_archive(req: Request, part: Path) -> None:
    """DownloadFailed (and the file removed) unless ``part`` has the offer's size and sha256."""
    size = part.stat().st_size
    if size != req.size:
        part.unlink()
        raise DownloadFailed(f"archive is {size} bytes, the offer says {req.size}")
    digest = hashlib.sha256()
    with part.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != req.sha256:
        part.unlink()
        raise DownloadFailed(f"archive sha256 {digest.hexdigest()[:12]}… does not match the "
                             f"offer's {req.sha256[:12]}…")


class _Pacer:
    """Sleeps so that the average rate stays under ``max_kbps`` kilobits per second."""

    def __init__(self, max_kbps: float | None) -> None:
        self._rate = None if max_kbps is None else max_kbps * 1000 / 8  # bytes per second
        self._start = time.monotonic()
        self._sent = 0

    def spend(self, n: int, cancel: threading.Event) -> None:
        if self._rate is None:
            return
        self._sent += n
        ahead = self._sent / self._rate - (time.monotonic() - self._start)
        if ahead > 0:
            cancel.wait(ahead)
