"""NMEA 0183 GPS receivers (GGA and RMC, checksums enforced)."""

from agrifleet.hardware.nmea.gps import NmeaGps
from agrifleet.hardware.nmea.sentences import SentenceError, build, checksum

__all__ = ["NmeaGps", "SentenceError", "build", "checksum"]
