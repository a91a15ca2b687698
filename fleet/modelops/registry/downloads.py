"""Package downloads: offer tokens (bound to a device and a package, expiring), Range, counters.

A download token is ``agd_`` and 32 random bytes; the database keeps only its SHA-256.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import Counter
from datetime import datetime

from sqlmodel import Session, select

from agrifleet.fleet.columns import utcnow
from agrifleet.fleet.modelops.registry.tables import DownloadToken
from agrifleet.fleet.people.auth import hash_token
from agrifleet.fleet.settings import FleetSettings

DOWNLOAD_PREFIX = "agd_"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def package_url(settings: FleetSettings, name: str, version: str) -> str:
    """The download address nodes are given (relative when AGRIFLEET_PUBLIC_URL is unset)."""
    return f"{settings.public_url or ''}/api/v1/models/{name}/{version}/package"


def issue_token(session: Session, device_id: str, package_id: int, rollout_id: int,
                expires_at: datetime) -> str:
    """Store a new download token's hash (not committed) and return the token."""
    token = DOWNLOAD_PREFIX + secrets.token_urlsafe(32)
    session.add(DownloadToken(token_hash=hash_token(token), device_id=device_id,
                              package_id=package_id, rollout_id=rollout_id,
                              expires_at=expires_at))
    return token


def revoke_tokens(session: Session, rollout_id: int, device_id: str | None = None) -> None:
    """Void the download tokens of a rollout (or of one device in it); not committed."""
    query = select(DownloadToken).where(DownloadToken.rollout_id == rollout_id)
    if device_id is not None:
        query = query.where(DownloadToken.device_id == device_id)
    for row in session.exec(query):
        row.revoked = True
        session.add(row)


def find_download_token(session: Session, token: str) -> DownloadToken | None:
    """The live token, or None (unknown, expired, revoked)."""
    if not token.startswith(DOWNLOAD_PREFIX) or len(token) > 200:
        return None
    row = session.exec(
        select(DownloadToken).where(DownloadToken.token_hash == hash_token(token))
    ).first()
    if row is None or row.revoked or row.expires_at <= utcnow():
        return None
    return row


class BadRange(ValueError):
    """A Range header the package cannot satisfy."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range a ``Range`` header asks for; None for the whole file.

    One range only (``bytes=N-``, ``bytes=N-M``, ``bytes=-K``); BadRange for anything else or
    a range outside the file, which is answered 416.
    """
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        raise BadRange(f"unsupported Range {header[:60]!r}: use bytes=N- or bytes=N-M")
    first, last = match.groups()
    if first == "":
        start, end = max(0, size - int(last)), size - 1
        if int(last) == 0:
            raise BadRange("an empty suffix range")
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            raise BadRange(f"range {header[:60]!r} ends before it starts")
    if start >= size:
        raise BadRange(f"range starts at {start}, the package has {size} bytes")
    return start, end


class DownloadCounters:
    """Bytes actually sent, per package and per downloader, for ``/metrics``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.bytes_by_package: Counter[str] = Counter()
        self.bytes_by_device: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()  # by status: 200, 206, 416

    def sent(self, package: str, downloader: str, n: int) -> None:
        with self._lock:
            self.bytes_by_package[package] += n
            self.bytes_by_device[downloader] += n

    def answered(self, status: int) -> None:
        with self._lock:
            self.requests[str(status)] += 1

    def render(self) -> str:
        with self._lock:
            lines = [
                "# HELP agrifleet_package_bytes_served_total Package bytes sent, by package",
                "# TYPE agrifleet_package_bytes_served_total counter",
                *(f'agrifleet_package_bytes_served_total{{package="{k}"}} {v}'
                  for k, v in sorted(self.bytes_by_package.items())),
                "# HELP agrifleet_package_device_bytes_served_total Package bytes sent, by "
                "device (or api: for technicians' tokens)",
                "# TYPE agrifleet_package_device_bytes_served_total counter",
                *(f'agrifleet_package_device_bytes_served_total{{device="{k}"}} {v}'
                  for k, v in sorted(self.bytes_by_device.items())),
                "# HELP agrifleet_package_downloads_total Package download answers, by status",
                "# TYPE agrifleet_package_downloads_total counter",
                *(f'agrifleet_package_downloads_total{{status="{k}"}} {v}'
                  for k, v in sorted(self.requests.items())),
            ]
        return "\n".join(lines) + "\n"
