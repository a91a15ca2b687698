"""Shipped SDI-12 value maps (TOML data files, loaded by name)."""
