"""An SDI-12 probe on a serial line (1200 baud 7E1, break before each command)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import serial

from agrifleet.hardware.line import SerialLine
from agrifleet.hardware.sdi12 import protocol
from agrifleet.hardware.sdi12.profile import Sdi12Profile, load_profile
from agrifleet.hardware.sensor import Measurement, SensorError

logger = logging.getLogger(__name__)

BREAK_S = 0.013  # a break is at least 12 ms of spacing
MARKING_S = 0.009  # then at least 8.33 ms of marking before the command

T = TypeVar("T")


class Sdi12Probe:
    """Measures with ``aM!`` (or ``aMC!``), waits for the service request, collects ``aD0!``…"""

    def __init__(
        self,
        port: str,
        *,
        address: str = "0",
        timeout: float = 2.0,
        profile: str | Sdi12Profile = "generic",
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.address = protocol.check_address(address)
        self.timeout = timeout
        self.profile = profile if isinstance(profile, Sdi12Profile) else load_profile(profile)
        self.line = SerialLine(
            port, baudrate=1200, bytesize=7, parity="E", stopbits=1, timeout=timeout
        )

    @property
    def port(self) -> str:
        """The configured path (often a /dev/serial/by-id link)."""
        return self.line.path

    def read(self) -> list[Measurement]:
        """One measurement: every value the probe reports, named by the profile."""
        body = self.profile.command
        wait, count = self._ask(body, protocol.parse_measure)
        if count == 0:
            raise SensorError(f"sdi12 {self.port} address {self.address}: {body} gives no values")
        if wait:
            self._await_service_request(wait)
        numbers: list[float] = []
        for page in range(10):
            got = self._ask(f"D{page}", self._values)
            if not got:
                break
            numbers += got
            if len(numbers) >= count:
                break
        if len(numbers) != count:
            self.line.close()
            raise SensorError(
                f"sdi12 {self.port} address {self.address}: announced {count} values, "
                f"sent {len(numbers)}"
            )
        return self.profile.to_measurements(numbers)

    def identify(self) -> str:
        """The ``aI!`` reply after the address: SDI-12 version, vendor, model, firmware."""
        return self._ask("I", lambda text, a: text[1:] if text[:1] == a else _wrong(text, a))

    def query_address(self) -> str:
        """The address of the only probe on the line (``?!``)."""
        reply = self._ask("", lambda text, a: text, address="?")
        return protocol.check_address(reply)

    def change_address(self, new: str) -> None:
        """Give the probe a new address (``aAb!``) and use it from now on."""
        protocol.check_address(new)
        self._ask(f"A{new}", lambda text, a: protocol.parse_address(text, new))
        logger.info("sdi12 %s: address %s is now %s", self.port, self.address, new)
        self.address = new

    def close(self) -> None:
        """Close the port; the next read reopens it by the configured path."""
        self.line.close()

    # -- one exchange --------------------------------------------------------------------------
    def _values(self, text: str, address: str) -> list[float]:
        return protocol.parse_values(text, address, crc=self.profile.crc)

    def _ask(self, body: str, parse: Callable[[str, str], T], address: str | None = None) -> T:
        """Send one command and parse its reply; any failure closes the line, as SensorError."""
        address = address or self.address
        cmd = protocol.command(address, body)
        with self.line.session() as port:
            port.reset_input_buffer()
            _wake(port)
            port.write(cmd)
            port.flush()
            deadline = time.monotonic() + self.timeout
            raw = self.line.read_line(port, deadline, protocol.seven_bit)
            # A bare "a<CR><LF>" is a late service request of an earlier measurement (one that
            # failed, say), never the answer to a measure, verify or identify command (a data
            # page with no values may be just "a"): skip it there.
            stale = f"{self.address}\r\n".encode()
            while raw == stale and body[:1] in ("M", "C", "V", "I"):
                raw = self.line.read_line(port, deadline, protocol.seven_bit)
            if not raw:
                raise SensorError(f"sdi12 {self.port}: no reply to {cmd.decode()}")
            try:
                return parse(protocol.reply_text(raw, echo=cmd), self.address)
            except protocol.ReplyError as exc:
                raise SensorError(f"sdi12 {self.port}: {cmd.decode()} -> {exc}") from exc

    def _await_service_request(self, seconds: int) -> None:
        """Wait up to ``seconds`` for the probe's ``a<CR><LF>`` saying the data is ready."""
        deadline = time.monotonic() + seconds + 0.1
        with self.line.session() as port:
            raw = self.line.read_line(port, deadline, protocol.seven_bit)
        if raw and raw != f"{self.address}\r\n".encode():
            logger.debug("sdi12 %s: odd service request %r", self.port, raw)


def _wake(port: serial.Serial) -> None:
    """Break, then marking: wakes every probe on the line (a pseudo-terminal ignores both)."""
    try:
        port.break_condition = True
        time.sleep(BREAK_S)
        port.break_condition = False
    except (serial.SerialException, OSError):
        logger.debug("%s cannot send a break; sending the command without", port.port)
    time.sleep(MARKING_S)


def _wrong(text: str, address: str) -> str:
    raise protocol.ReplyError(f"reply {text!r} is not from address {address!r}")
