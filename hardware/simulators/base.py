"""A simulated serial device on a pseudo-terminal, with a by-id style link and injectable faults.

The agent opens ``.path`` (like /dev/ttyUSB0) or ``.link`` (like a /dev/serial/by-id link).
``unplug()`` closes the pseudo-terminal, as pulling the USB adapter would; ``replug()`` opens a
new one (a new /dev/pts number) and re-points the link, as udev does for a new ttyUSB number.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import select
import shutil
import tempfile
import threading
import time
import tty
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

logger = logging.getLogger(__name__)

_serial_numbers = itertools.count(1)


@dataclass
class Faults:
    """Faults switched on at run time; several may be on at once."""

    noise: bool = False  # garbage bytes on the line, frames corrupted
    bad_crc: bool = False  # well-formed frames with a wrong CRC / checksum
    silence: bool = False  # the device does not answer

    def active(self) -> list[str]:
        """Names of the faults switched on."""
        return [name for name, on in vars(self).items() if on]


class PtySimulator:
    """Serves a byte protocol on a pseudo-terminal in one thread; subclasses speak the protocol."""

    kind = "serial"

    def __init__(self, *, link_dir: str | None = None, seed: int | None = None) -> None:
        self.faults = Faults()
        self.rng = random.Random(seed)  # noqa: S311 - simulation, not cryptography
        self._serial = f"{self.kind}-{os.getpid()}-{next(_serial_numbers)}"
        self._link_dir = Path(link_dir) if link_dir else None
        self._own_dir = False
        self._lock = threading.RLock()
        self._master: int | None = None
        self._slave: int | None = None
        self._path = ""
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._outbox: list[tuple[float, bytes]] = []
        self.started_at = time.monotonic()

    # -- what the agent opens ------------------------------------------------------------------
    @property
    def path(self) -> str:
        """The current device node (changes on every replug)."""
        return self._path

    @property
    def link(self) -> str:
        """A stable link to the current node, like /dev/serial/by-id/usb-…-if00-port0."""
        if self._link_dir is None:
            raise RuntimeError("start() the simulator first")
        return str(self._link_dir / f"usb-agrifleet_{self._serial}-if00-port0")

    @property
    def plugged(self) -> bool:
        """Whether the pseudo-terminal exists now."""
        return self._master is not None

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> Self:
        """Open the pseudo-terminal and serve it in a background thread."""
        if self._thread is not None:
            return self
        if self._link_dir is None:
            self._link_dir = Path(tempfile.mkdtemp(prefix="agrifleet-serial-"))
            self._own_dir = True
        self._link_dir.mkdir(parents=True, exist_ok=True)
        self._stop.clear()
        self.replug()
        self._thread = threading.Thread(target=self._serve, name=f"sim-{self._serial}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the pseudo-terminal and link."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.unplug()
        if self._own_dir and self._link_dir is not None:
            shutil.rmtree(self._link_dir, ignore_errors=True)
            self._link_dir, self._own_dir = None, False

    def unplug(self) -> None:
        """Close the pseudo-terminal and remove the link, as pulling the adapter out would."""
        with self._lock:
            for fd in (self._master, self._slave):
                if fd is not None:
                    os.close(fd)
            self._master = self._slave = None
            self._outbox.clear()
            if self._link_dir is not None:
                Path(self.link).unlink(missing_ok=True)
        logger.debug("%s unplugged", self._serial)

    def replug(self) -> None:
        """Open a new pseudo-terminal (new path) and point the link at it."""
        with self._lock:
            if self._master is not None:
                self.unplug()
            master, slave = os.openpty()
            if os.ttyname(slave) == self._path:  # a new adapter number, as udev would give
                spare = (master, slave)
                master, slave = os.openpty()
                os.close(spare[0])
                os.close(spare[1])
            tty.setraw(slave)
            os.set_blocking(master, False)
            self._master, self._slave = master, slave
            self._path = os.ttyname(slave)
            tmp = Path(f"{self.link}.new")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self._path)
            tmp.replace(self.link)
            self.on_replug()
        logger.debug("%s plugged in at %s", self._serial, self._path)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- for subclasses --------------------------------------------------------------------------
    def on_bytes(self, data: bytes) -> None:
        """Handle bytes the agent wrote."""

    def on_tick(self, now: float) -> None:
        """Called about every 10 ms (for devices that talk unasked, like a GPS)."""

    def on_replug(self) -> None:
        """Reset protocol state when a new pseudo-terminal appears."""

    def send(self, data: bytes, delay: float = 0.0) -> None:
        """Write bytes to the agent now or after ``delay`` seconds (dropped if unplugged)."""
        with self._lock:
            self._outbox.append((time.monotonic() + delay, data))

    def cancel_pending(self) -> None:
        """Forget bytes scheduled by ``send(delay=…)`` and not yet written."""
        with self._lock:
            self._outbox.clear()

    def garble(self, data: bytes, alphabet: bytes) -> bytes:
        """``data`` with bytes overwritten and garbage from ``alphabet`` spliced in."""
        out = bytearray(data)
        for _ in range(max(1, len(out) // 8)):
            out[self.rng.randrange(len(out))] = self.rng.choice(alphabet)
        at = self.rng.randrange(len(out) + 1)
        junk = bytes(self.rng.choice(alphabet) for _ in range(self.rng.randint(1, 6)))
        return bytes(out[:at]) + junk + bytes(out[at:])

    # -- the thread ------------------------------------------------------------------------------
    def _serve(self) -> None:
        while not self._stop.is_set():
            master = self._master
            if master is None:
                time.sleep(0.01)
                continue
            try:
                ready, _, _ = select.select([master], [], [], 0.01)
            except (OSError, ValueError):  # unplugged while waiting
                continue
            with self._lock:
                if self._master != master:
                    continue
                if ready:
                    try:
                        data = os.read(master, 4096)
                    except OSError:
                        data = b""
                    if data:
                        self.on_bytes(data)
                self.on_tick(time.monotonic())
                self._flush(master)

    def _flush(self, master: int) -> None:
        now = time.monotonic()
        due = [item for item in self._outbox if item[0] <= now]
        self._outbox = [item for item in self._outbox if item[0] > now]
        for _, data in due:
            try:
                os.write(master, data)
            except OSError:  # nobody reading and the buffer is full: the bytes are lost
                logger.debug("%s dropped %d bytes", self._serial, len(data))
