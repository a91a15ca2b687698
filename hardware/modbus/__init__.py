"""Modbus RTU soil probes over RS-485: register maps are TOML profiles in ``profiles/``."""

from agrifleet.hardware.modbus.probe import ModbusSoilProbe
from agrifleet.hardware.modbus.profile import (
    ModbusProfile,
    Register,
    load_profile,
    shipped_profiles,
)

__all__ = ["ModbusProfile", "ModbusSoilProbe", "Register", "load_profile", "shipped_profiles"]
