"""Simulated field sensors serving the real byte protocols on pseudo-terminals."""

from hardware.simulators.base import Faults, PtySimulator
from hardware.simulators.modbus import ModbusAirSimulator, ModbusSoilSimulator
from hardware.simulators.nmea import NmeaGpsSimulator
from hardware.simulators.rain import RainGaugeSimulator
from hardware.simulators.sdi12 import Sdi12Simulator

__all__ = [
    "Faults",
    "ModbusAirSimulator",
    "ModbusSoilSimulator", "NmeaGpsSimulator", "PtySimulator",
    "RainGaugeSimulator",
    "Sdi12Simulator",
]
