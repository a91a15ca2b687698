"""Shipped Modbus register maps (TOML data files, loaded by name)."""
