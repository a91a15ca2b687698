"""Tipping-bucket rain gauges read as pulse counters: bucket size and register are TOML data."""

from agrifleet.hardware.rain.gauge import RainGauge
from agrifleet.hardware.rain.profile import RainGaugeProfile, load_profile, shipped_profiles

__all__ = ["RainGauge", "RainGaugeProfile", "load_profile", "shipped_profiles"]
