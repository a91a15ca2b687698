"""A Modbus RTU soil probe on an RS-485 line, read through pymodbus's serial client."""

from __future__ import annotations

import logging

from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ModbusException

from agrifleet.hardware.modbus.profile import ModbusProfile, load_profile, plan_blocks
from agrifleet.hardware.ports import describe
from agrifleet.hardware.sensor import Measurement, SensorError

logger = logging.getLogger(__name__)


class ModbusSoilProbe:
    """Reads a profile's registers in as few requests as possible; every failure is SensorError."""

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 9600,
        address: int = 1,
        profile: str | ModbusProfile = "soil-7in1",
        timeout: float = 1.0,
    ) -> None:
        if not 1 <= address <= 247:
            raise ValueError(f"Modbus address must be 1..247, got {address}")
        if baudrate <= 0 or timeout <= 0:
            raise ValueError("baudrate and timeout must be positive")
        self.port = port
        self.baudrate = baudrate
        self.address = address
        self.timeout = timeout
        self.profile = profile if isinstance(profile, ModbusProfile) else load_profile(profile)
        self.blocks = plan_blocks(self.profile)
        self._client: ModbusSerialClient | None = None
        _quiet_library_logs()

    def read(self) -> list[Measurement]:
        """One reading of every register in the profile."""
        client = self._connect()
        words: dict[int, int] = {}
        for block in self.blocks:
            try:
                if self.profile.function == 3:
                    reply = client.read_holding_registers(
                        block.start, count=block.count, device_id=self.address
                    )
                else:
                    reply = client.read_input_registers(
                        block.start, count=block.count, device_id=self.address
                    )
            except (ModbusException, OSError, ValueError) as exc:
                self.close()
                raise SensorError(
                    f"modbus {self.port} address {self.address}: no valid reply to a read of "
                    f"{block.count} registers at {block.start:#06x} ({exc})"
                ) from exc
            if reply.isError():
                raise SensorError(
                    f"modbus {self.port} address {self.address}: the probe refused a read at "
                    f"{block.start:#06x} (exception code {getattr(reply, 'exception_code', '?')})"
                )
            registers = list(reply.registers)
            if len(registers) != block.count:
                self.close()
                raise SensorError(
                    f"modbus {self.port}: asked for {block.count} registers, got {len(registers)}"
                )
            words.update(zip(range(block.start, block.start + block.count), registers, strict=True))
        return self.profile.to_measurements(words)

    def close(self) -> None:
        """Close the port; the next read reopens it by the configured path."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _connect(self) -> ModbusSerialClient:
        if self._client is not None:
            return self._client
        client = ModbusSerialClient(
            self.port,
            baudrate=self.baudrate,
            bytesize=8,
            parity=self.profile.parity,
            stopbits=self.profile.stopbits,
            timeout=self.timeout,
            retries=0,
            name=f"modbus-{self.address}",
        )
        if not client.connect():
            raise SensorError(f"modbus: cannot open {self.port}")
        logger.info("modbus probe %s at address %d", describe(self.port), self.address)
        self._client = client
        return client


def _quiet_library_logs() -> None:
    """pymodbus logs each timeout as ERROR; our SensorError says the same once, so keep it quiet.

    Only when nobody chose a level for the "pymodbus" logger: an explicit setting wins.
    """
    library = logging.getLogger("pymodbus")
    if library.level == logging.NOTSET:
        library.setLevel(logging.CRITICAL)
