"""agrifleet: field sensors and on-device crop-disease AI, reporting to a fleet manager."""

__version__ = "0.1.0"
