"""Wall-clock trust on a node that may boot without a real-time clock, uptime and boot id.

Until the kernel says the clock is synchronised (adjtimex: STA_UNSYNC clear) and it reads a date
after :data:`SANITY_FLOOR`, items are stamped ``clock_synced=False``; once it is, the outbox
rewrites their timestamps from their uptime (see :meth:`edge.outbox.Outbox.correct_clock`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import math
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

#: No correct clock reads a date before this software existed.
SANITY_FLOOR = datetime(2026, 1, 1, tzinfo=UTC)
STA_UNSYNC = 0x0040
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """Linux ``struct timex`` (adjtimex(2)), with room to spare at the end."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 32),
    ]


def kernel_clock_synced() -> bool | None:
    """What the kernel says about NTP sync (adjtimex, read only); None where it cannot tell."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        timex = _Timex()  # modes = 0: only read the state
        if libc.adjtimex(ctypes.byref(timex)) < 0:
            return None
    except (OSError, AttributeError):
        return None
    return not timex.status & STA_UNSYNC


def uptime_s() -> float:
    """Seconds since the system booted (CLOCK_BOOTTIME, counts suspend) or process monotonic."""
    clock = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(clock) if clock is not None else time.monotonic()


def system_boot_id() -> str:
    """The kernel's id for this boot, so seqs continue when only the agent restarts."""
    try:
        return _BOOT_ID.read_text().strip() or uuid.uuid4().hex
    except OSError:
        return uuid.uuid4().hex


@dataclass(frozen=True)
class Stamp:
    """When an item was taken."""

    ts: float  # wall clock, seconds since the epoch
    uptime_s: float
    synced: bool


class Clock:
    """Stamps items and decides whether the wall clock is trusted (once trusted, stays so)."""

    def __init__(
        self,
        mode: Literal["auto", "always", "never"] = "auto",
        *,
        wall: Callable[[], float] = time.time,
        uptime: Callable[[], float] = uptime_s,
        kernel_synced: Callable[[], bool | None] = kernel_clock_synced,
        floor: datetime = SANITY_FLOOR,
        check_interval_s: float = 10.0,
    ) -> None:
        self.mode = mode
        self._wall = wall
        self._uptime = uptime
        self._kernel_synced = kernel_synced
        self._floor = floor.timestamp()
        self._check_interval_s = check_interval_s
        self._synced = mode == "always"
        self._checked_at: float | None = None
        self._lock = threading.Lock()

    def synced(self) -> bool:
        """Whether the wall clock can be trusted now; checks the kernel now and then."""
        if self._synced or self.mode == "never":
            return self._synced
        with self._lock:
            up = self._uptime()
            if self._checked_at is not None and up - self._checked_at < self._check_interval_s:
                return self._synced
            self._checked_at = up
            kernel = self._kernel_synced()
            if self._wall() >= self._floor and kernel is not False:
                self._synced = True
                log.info("wall clock is synchronised (kernel says %s)", kernel)
        return self._synced

    def now(self) -> Stamp:
        synced = self.synced()
        return Stamp(ts=self._wall(), uptime_s=self._uptime(), synced=synced)

    def recheck(self) -> None:
        """Ask the kernel again at the next call to synced(), whatever the interval."""
        self._checked_at = None


def fast_wall(start: datetime, real_start: datetime, scale: float,
              wall: Callable[[], float] = time.time) -> Callable[[], float]:
    """Tests only: a wall clock that reads ``start`` at the real moment ``real_start`` and runs
    ``scale`` times faster, so a week of readings is taken in seconds (``[clock.simulate]``)."""
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"scale must be a finite number above 0, not {scale}")
    origin, real_origin = start.timestamp(), real_start.timestamp()

    def read() -> float:
        return origin + (wall() - real_origin) * scale

    return read


def iso(ts: float) -> str:
    """Seconds since the epoch as ISO 8601 UTC."""
    return datetime.fromtimestamp(ts, UTC).isoformat()
