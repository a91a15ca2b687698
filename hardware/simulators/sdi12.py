"""An SDI-12 probe on a pseudo-terminal: ?!, a!, aI!, aM!/aMC!, aD0!…, aAb!.

A pseudo-terminal carries no break and no parity: the simulator takes a command without a break
and masks received bytes to 7 bits, so a driver that sends 7E1 bytes works against it.
"""

from __future__ import annotations

import re
import time

from agrifleet.hardware.sdi12 import protocol
from agrifleet.hardware.sdi12.profile import Sdi12Profile, load_profile
from agrifleet.hardware.simulators.base import PtySimulator
from agrifleet.hardware.simulators.signals import Signal, drift_for

#: Garbage that stays garbage after a 7-bit mask: control characters, never CR or LF.
_NOISE = bytes(b for b in [*range(0x01, 0x20), *range(0x81, 0xA0)] if b & 0x7F not in (10, 13))
_MAX_M_CHARS = 35  # values per aDn! reply after aM!


class Sdi12Simulator(PtySimulator):
    """One SDI-12 probe; set ``faults``, ``measure_seconds`` and ``ready_after`` at run time.

    Weather values follow a day of ``day_s`` seconds; ``optional_values=False`` leaves out the
    profile's optional trailing values (a T/RH probe without vapour pressure).
    """

    kind = "sdi12"

    def __init__(
        self,
        address: str = "0",
        profile: str | Sdi12Profile = "generic",
        *,
        generic_values: int = 3,
        measure_seconds: int = 1,
        ready_after: float = 0.2,
        echo: bool = False,
        link_dir: str | None = None,
        seed: int | None = None,
        day_s: float = 86400.0,
        optional_values: bool = True,
    ) -> None:
        super().__init__(link_dir=link_dir, seed=seed)
        self.address = protocol.check_address(address)
        self.profile = profile if isinstance(profile, Sdi12Profile) else load_profile(profile)
        self.measure_seconds = measure_seconds  # the ttt it announces
        self.ready_after = ready_after  # when it actually sends the service request
        self.echo = echo  # a one-wire interface hears its own transmission
        self.commands: list[str] = []  # every command received, for tests
        values = [v for v in self.profile.values if optional_values or not v.optional]
        specs = [(v.quantity, v.min, v.max) for v in values] or [
            (f"value_{i}", 0.0, 100.0) for i in range(generic_values)
        ]
        self._drifts: list[Signal] = [
            drift_for(
                q, -1e6 if lo is None else lo, 1e6 if hi is None else hi, self.rng, day_s=day_s
            )
            for q, lo, hi in specs
        ]
        self._decimals = [
            0 if "ec" in q.split("_") else 3 if q == "vapour_pressure" else 1 for q, _, _ in specs
        ]
        self._pinned: dict[int, float] = {}
        self._buffer = b""
        self._data: list[str] = []
        self._data_crc = False

    def set_value(self, index: int, value: float | None) -> None:
        """Pin value ``index`` (0-based) of the next measurement; None lets it drift again."""
        if not 0 <= index < len(self._drifts):
            raise IndexError(f"the probe has {len(self._drifts)} values")
        if value is None:
            self._pinned.pop(index, None)
        else:
            self._pinned[index] = value

    def on_replug(self) -> None:
        self._buffer, self._data = b"", []

    def on_bytes(self, data: bytes) -> None:
        self._buffer = (self._buffer + protocol.seven_bit(data))[-64:]
        while b"!" in self._buffer:
            raw, self._buffer = self._buffer.split(b"!", 1)
            text = raw.decode("ascii", "replace").strip("\x00\r\n ")
            self.cancel_pending()  # a new command aborts a measurement still in progress
            if self.echo:
                self.send(raw + b"!")
            self._handle(text)

    def _handle(self, text: str) -> None:
        self.commands.append(text + "!")
        if text == "?":
            return self._reply(self.address.encode() + b"\r\n")
        if not text or text[0] != self.address:
            return None  # another probe's command: stay quiet
        body, a = text[1:], self.address
        if body == "":
            self._reply(f"{a}\r\n".encode())
        elif body == "I":
            self._reply(f"{a}14AGRIFLEESIM12 001sim-{a}\r\n".encode())
        elif body.startswith("A") and len(body) == 2 and body[1] in protocol.ADDRESSES:
            self.address = body[1]
            self._reply(f"{self.address}\r\n".encode())
        elif re.fullmatch(r"MC?[1-9]?", body):
            self._measure(crc="C" in body)
        elif body[:1] == "D" and body[1:].isdigit() and len(body) == 2:
            self._send_page(int(body[1:]))

    def _measure(self, crc: bool) -> None:
        t = time.monotonic() - self.started_at
        self._data = [
            protocol.format_value(self._pinned.get(i, d.value(t)), self._decimals[i])
            for i, d in enumerate(self._drifts)
        ]
        self._data_crc = crc
        self._reply(f"{self.address}{self.measure_seconds:03d}{len(self._data)}\r\n".encode())
        if self.measure_seconds and not self.faults.silence:
            self.send(f"{self.address}\r\n".encode(), delay=self.ready_after)

    def _send_page(self, page: int) -> None:
        pages: list[list[str]] = [[]]
        for value in self._data:
            if len("".join(pages[-1])) + len(value) > _MAX_M_CHARS:
                pages.append([])
            pages[-1].append(value)
        values = pages[page] if page < len(pages) else []
        line = protocol.values_reply(self.address, values, crc=self._data_crc)
        if self.faults.bad_crc and self._data_crc and values:
            line = line[:-5] + bytes(b ^ 0x01 for b in line[-5:-2]) + b"\r\n"
        self._reply(line)

    def _reply(self, line: bytes) -> None:
        if self.faults.silence:
            return
        if self.faults.noise:
            line = self.garble(line[:-2], _NOISE) + b"\r\n"
        self.send(line, delay=0.01)
