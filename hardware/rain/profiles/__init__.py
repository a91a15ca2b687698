"""Shipped rain gauge profiles (TOML data files, loaded by name)."""
