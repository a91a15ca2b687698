"""A Modbus RTU soil probe on a pseudo-terminal: answers function 0x03/0x04 at its address only."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersResponse,
    ReadInputRegistersResponse,
)

from agrifleet.hardware.modbus.profile import ModbusProfile, load_profile
from agrifleet.hardware.simulators.base import PtySimulator
from agrifleet.hardware.simulators.signals import Signal, drift_for

logger = logging.getLogger(__name__)

ILLEGAL_FUNCTION = 0x01
ILLEGAL_DATA_ADDRESS = 0x02


class ModbusSoilSimulator(PtySimulator):
    """Serves a profile's registers with slowly varying values; faults set in ``.faults``.

    Weather quantities (air temperature, humidity, leaf wetness) follow a day of ``day_s``
    seconds, of the named ``weather`` (:data:`~hardware.simulators.signals.WEATHER`); soil
    quantities drift slowly. ``clock`` (seconds since the epoch, e.g. a test's fast clock shared
    with the agent) replaces the time since start: the day then follows that clock's UTC hours
    and ``day_s`` is not used.
    """

    kind = "modbus-soil"

    def __init__(
        self,
        profile: str | ModbusProfile = "soil-7in1",
        address: int = 1,
        *,
        link_dir: str | None = None,
        seed: int | None = None,
        day_s: float = 86400.0,
        weather: str = "fair",
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(link_dir=link_dir, seed=seed)
        self._clock = clock
        if clock is not None:
            day_s = 86400.0
        self.profile = profile if isinstance(profile, ModbusProfile) else load_profile(profile)
        self.address = address
        self.requests = 0  # frames addressed to us, for tests
        self._framer = FramerRTU(DecodePDU(is_server=True))
        self._buffer = b""
        self._pinned: dict[str, float] = {}
        self._drifts: dict[str, Signal] = {
            r.quantity: drift_for(r.quantity, r.min, r.max, self.rng, day_s=day_s,
                                  weather=weather, start_hour=0.0 if clock else None)
            for r in self.profile.registers
        }
        spans = [(r.address, r.address + r.words) for r in self.profile.registers]
        self._first = min(s for s, _ in spans)
        self._end = max(e for _, e in spans)

    def set_value(self, quantity: str, value: float | None) -> None:
        """Pin a quantity to a value (even an implausible one); None lets it drift again."""
        if quantity not in self._drifts:
            raise KeyError(f"{quantity!r} is not in profile {self.profile.name}")
        if value is None:
            self._pinned.pop(quantity, None)
        else:
            self._pinned[quantity] = value

    def values(self) -> dict[str, float]:
        """The engineering values the registers hold now."""
        t = self._clock() if self._clock else time.monotonic() - self.started_at
        return {q: self._pinned.get(q, d.value(t)) for q, d in self._drifts.items()}

    def on_replug(self) -> None:
        self._buffer = b""

    def on_bytes(self, data: bytes) -> None:
        self._buffer = (self._buffer + data)[-512:]
        while self._buffer:
            used, request = self._framer.handleFrame(self._buffer, 0, 0)
            self._buffer = self._buffer[used:]
            if request is None:
                if used == 0:
                    return
                continue
            if request.dev_id == self.address:
                self.requests += 1
                self._answer(request)

    def _answer(self, request: ModbusPDU) -> None:
        if self.faults.silence:
            return
        reply = self._reply(request)
        reply.dev_id = self.address
        frame = self._framer.buildFrame(reply)
        if self.faults.bad_crc:
            frame = frame[:-2] + bytes([frame[-2] ^ 0x5A, frame[-1] ^ 0xA5])
        if self.faults.noise:
            frame = self.garble(frame, bytes(range(256)))
        self.send(frame, delay=0.005)

    def _reply(self, request: ModbusPDU) -> ModbusPDU:
        code = request.function_code
        if code != self.profile.function:
            return ExceptionResponse(code, ILLEGAL_FUNCTION)
        start, count = request.address, request.count
        if start < self._first or start + count > self._end:
            return ExceptionResponse(code, ILLEGAL_DATA_ADDRESS)
        words = dict.fromkeys(range(start, start + count), 0)
        values = self.values()
        for reg in self.profile.registers:
            for i, word in enumerate(reg.encode(values[reg.quantity])):
                if reg.address + i in words:
                    words[reg.address + i] = word
        registers = [words[a] for a in range(start, start + count)]
        response = ReadHoldingRegistersResponse if code == 3 else ReadInputRegistersResponse
        return response(registers=registers)


class ModbusAirSimulator(ModbusSoilSimulator):
    """An XY-MD02 (SHT20) air temperature / humidity probe: input registers 1 and 2."""

    kind = "modbus-air"

    def __init__(
        self,
        profile: str | ModbusProfile = "xy-md02",
        address: int = 1,
        *,
        link_dir: str | None = None,
        seed: int | None = None,
        day_s: float = 86400.0,
        weather: str = "fair",
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(profile, address, link_dir=link_dir, seed=seed, day_s=day_s,
                         weather=weather, clock=clock)
