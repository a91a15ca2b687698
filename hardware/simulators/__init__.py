"""Simulated field sensors serving the real byte protocols on pseudo-terminals."""

from agrifleet.hardware.simulators.base import Faults, PtySimulator
from agrifleet.hardware.simulators.modbus import ModbusAirSimulator, ModbusSoilSimulator
from agrifleet.hardware.simulators.nmea import NmeaGpsSimulator
from agrifleet.hardware.simulators.rain import RainGaugeSimulator
from agrifleet.hardware.simulators.sdi12 import Sdi12Simulator

__all__ = [
    "Faults",
    "ModbusAirSimulator",
    "ModbusSoilSimulator", "NmeaGpsSimulator", "PtySimulator",
    "RainGaugeSimulator",
    "Sdi12Simulator",
]
