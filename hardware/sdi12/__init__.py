"""SDI-12 probes: our own small implementation, tested byte for byte (no maintained library)."""

from agrifleet.hardware.sdi12.probe import Sdi12Probe
from agrifleet.hardware.sdi12.profile import Sdi12Profile, load_profile, shipped_profiles

__all__ = ["Sdi12Probe", "Sdi12Profile", "load_profile", "shipped_profiles"]
