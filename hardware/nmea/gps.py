"""A GPS receiver streaming NMEA 0183 on a serial line: the node's position from GGA and RMC."""

from __future__ import annotations

import logging
import time

from agrifleet.hardware.line import SerialLine
from agrifleet.hardware.nmea.sentences import Gga, Rmc, SentenceError, parse_gga, parse_rmc, split
from agrifleet.hardware.sensor import Measurement, SensorError

logger = logging.getLogger(__name__)


class NmeaGps:
    """Listens up to ``timeout`` for a checked GGA (and RMC, for speed); no fix is an error.

    A sentence with a bad checksum and one with impossible values (a faulty receiver) are
    refused alike and counted together in the error when no good GGA came.
    """

    def __init__(self, port: str, *, baudrate: int = 9600, timeout: float = 2.0) -> None:
        if baudrate <= 0 or timeout <= 0:
            raise ValueError("baudrate and timeout must be positive")
        self.timeout = timeout
        self.line = SerialLine(port, baudrate=baudrate, bytesize=8, parity="N", stopbits=1)

    @property
    def port(self) -> str:
        """The configured path (often a /dev/serial/by-id link)."""
        return self.line.path

    def read(self) -> list[Measurement]:
        """Position, altitude, satellites, fix quality and speed from fresh sentences."""
        gga: Gga | None = None
        rmc: Rmc | None = None
        refused = 0
        deadline = time.monotonic() + self.timeout
        with self.line.session() as port:
            port.reset_input_buffer()  # only sentences sent from now on: no stale position
            while time.monotonic() < deadline and (gga is None or rmc is None):
                raw = self.line.read_line(port, deadline)
                if not raw.endswith(b"\n"):
                    continue
                try:
                    kind, fields = split(raw)
                    if kind == "GGA":
                        gga = parse_gga(fields)
                    elif kind == "RMC":
                        rmc = parse_rmc(fields)
                except SentenceError as exc:
                    refused += 1
                    logger.debug("gps %s: refused %s", self.port, exc)
        return self._measurements(gga, rmc, refused)

    def close(self) -> None:
        """Close the port; the next read reopens it by the configured path."""
        self.line.close()

    def _measurements(self, gga: Gga | None, rmc: Rmc | None, refused: int) -> list[Measurement]:
        if gga is None:
            if rmc is not None and not rmc.valid:
                raise SensorError("no fix")
            why = f"{refused} refused sentences" if refused else "nothing"
            raise SensorError(f"gps {self.port}: no valid GGA within {self.timeout:g} s ({why})")
        if gga.quality == 0 or (rmc is not None and not rmc.valid):
            raise SensorError("no fix")
        if gga.latitude is None or gga.longitude is None:
            raise SensorError(f"gps {self.port}: GGA reports a fix without a position")
        out = [
            Measurement("latitude", gga.latitude, "deg"),
            Measurement("longitude", gga.longitude, "deg"),
        ]
        if gga.altitude is not None:
            out.append(Measurement("altitude", gga.altitude, "m"))
        out += [
            Measurement("satellites", float(gga.satellites), "count"),
            Measurement("gps_fix_quality", float(gga.quality), ""),
        ]
        if rmc is not None and rmc.speed_mps is not None:
            out.append(Measurement("speed", rmc.speed_mps, "m/s"))
        return out
