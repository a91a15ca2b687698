"""A serial line opened on demand by its configured path and dropped on any error.

Dropping the port on error and reopening it by the configured path (often a /dev/serial/by-id
link) on the next read is how a USB adapter that came back under a new ttyUSB number is found.
"""

from __future__ import annotations

import logging
import termios
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import serial

from agrifleet.hardware.ports import describe, resolve
from agrifleet.hardware.sensor import SensorError

logger = logging.getLogger(__name__)

POLL_S = 0.05


class SerialLine:
    """One serial port, opened lazily with fixed settings; any failure closes it."""

    def __init__(self, path: str, **settings: Any) -> None:
        self.path = path
        # Reads poll in short slices up to a deadline: changing a port's timeout reconfigures it.
        self.settings = {**settings, "timeout": POLL_S, "exclusive": True}
        self._port: serial.Serial | None = None

    @property
    def is_open(self) -> bool:
        """Whether the port is open now."""
        return self._port is not None

    def open(self) -> serial.Serial:
        """The open port, opening it by the configured path if needed."""
        if self._port is None:
            try:
                self._port = self._open_pty_tolerant()
            except (serial.SerialException, OSError, ValueError, termios.error) as exc:
                raise SensorError(f"cannot open {self.path}: {exc}") from exc
            logger.info("opened %s", describe(self.path))
        return self._port

    def _open_pty_tolerant(self) -> serial.Serial:
        try:
            return serial.Serial(self.path, **self.settings)
        except termios.error:
            if not resolve(self.path).startswith("/dev/pts/"):
                raise
        # A pseudo-terminal stays 8N1 whatever we ask, and may then refuse 7E1 outright; the
        # drivers mask received bytes to 7 bits, so the simulators still understand each other.
        logger.debug("%s is a pseudo-terminal: opening it 8N1", self.path)
        return serial.Serial(self.path, **{**self.settings, "bytesize": 8, "parity": "N"})

    def close(self) -> None:
        """Close the port; the next use reopens it."""
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):  # already gone with the adapter
                logger.debug("closing %s failed", self.path, exc_info=True)

    @contextmanager
    def session(self) -> Iterator[serial.Serial]:
        """Use the port; any error closes it and surfaces as SensorError."""
        port = self.open()
        try:
            yield port
        except SensorError:
            self.close()
            raise
        except (serial.SerialException, OSError, ValueError, termios.error) as exc:
            self.close()
            raise SensorError(f"{self.path}: {exc}") from exc

    def read_line(
        self, port: serial.Serial, deadline: float, clean: Callable[[bytes], bytes] = bytes
    ) -> bytes:
        """Bytes up to and including LF before the monotonic deadline; b"" if none came."""
        buffer = b""
        while not buffer.endswith(b"\n"):
            if time.monotonic() >= deadline:
                break
            buffer += clean(port.read_until(b"\n", 512 - len(buffer)))
            if len(buffer) >= 512:
                raise SensorError(f"{self.path}: line longer than 512 bytes, not a sensor reply")
        return buffer
