"""Fetch a package archive over HTTP(S), resuming with Range after a dropped link.

The partial file lives beside the updater's state, named by the archive's sha256, and its size
is the offset to resume from (flushed every chunk), so a node killed or cut off mid-download asks
only for the bytes it lacks. Stdlib only: the node has no HTTP client library.
"""

from __future__ import annotations

import hashlib
import logging
import os
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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
    request = urllib.request.Request(req.url, headers=headers)  # noqa: S310 (checked above)
    try:
        response = _opener(req.ca_file).open(request, timeout=req.timeout_s)
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:  # the token is for the fleet only: never follow elsewhere
            raise DownloadFailed(f"download refused: the fleet redirected (HTTP {exc.code}); "
                                 "the node does not follow redirects") from None
        if exc.code == 416:  # our partial file no longer fits what the fleet has
            part.unlink(missing_ok=True)
            raise DownloadInterrupted("range not satisfiable; starting again") from None
        if exc.code in (401, 403, 404, 410):
            raise DownloadFailed(f"download refused: HTTP {exc.code} {exc.reason}") from None
        raise DownloadInterrupted(f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise DownloadFailed(f"the fleet's certificate is not trusted ({reason.verify_message}"
                                 "); set [updates] ca_file to its CA") from None
        raise DownloadInterrupted(f"cannot reach {req.url}: {reason}") from None
    with response:
        if offset and response.status != 206:  # the server ignored Range: start again
            offset = 0
        mode = "ab" if offset else "wb"
        budget = _Pacer(req.max_kbps)
        try:
            with part.open(mode) as f:
                f.seek(offset)
                while True:
                    if cancel.is_set():
                        raise DownloadCancelled()
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
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
        except OSError as exc:  # includes socket timeouts and resets
            raise DownloadInterrupted(f"link dropped at byte {offset}: {exc}") from None
    if offset < req.size:
        raise DownloadInterrupted(f"link dropped at byte {offset} of {req.size}")


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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects, so the bearer token never goes to another address."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _opener(ca_file: Path | None) -> urllib.request.OpenerDirector:
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    return urllib.request.build_opener(_NoRedirect, urllib.request.HTTPSHandler(context=context))


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
