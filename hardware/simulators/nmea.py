"""A GPS receiver on a pseudo-terminal: GGA and RMC once per ``interval`` seconds."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from agrifleet.hardware.nmea.sentences import KNOTS_TO_MPS, build, format_coordinate
from agrifleet.hardware.simulators.base import PtySimulator

_NOISE = bytes(range(256))


class NmeaGpsSimulator(PtySimulator):
    """A fixed node's GPS: a few metres of wander, 7–11 satellites; ``has_fix`` switchable."""

    kind = "nmea-gps"

    def __init__(
        self,
        lat: float = 48.1173,
        lon: float = 11.5167,
        *,
        altitude: float = 545.4,
        speed_mps: float = 0.0,
        interval: float = 1.0,
        talker: str = "GP",
        link_dir: str | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(link_dir=link_dir, seed=seed)
        self.lat, self.lon, self.altitude = lat, lon, altitude
        self.speed_mps = speed_mps
        self.interval = interval
        self.talker = talker
        self.has_fix = True
        self.sent = 0  # sentence pairs sent, for tests
        self._next = 0.0

    def on_tick(self, now: float) -> None:
        if now < self._next:
            return
        self._next = now + self.interval
        if self.faults.silence:
            return
        for line in self.sentences(datetime.now(UTC), now - self.started_at):
            if self.faults.bad_crc:
                line = line[:-4] + (b"00" if line[-4:-2] != b"00" else b"FF") + b"\r\n"
            if self.faults.noise:
                line = self.garble(line[:-2], _NOISE) + b"\r\n"
            self.send(line)
        self.sent += 1

    def sentences(self, when: datetime, t: float) -> list[bytes]:
        """The GGA and RMC a receiver would send at ``when``."""
        wander = 2e-5  # about two metres
        lat = self.lat + wander * math.sin(t / 97)
        lon = self.lon + wander * math.cos(t / 113)
        lat_s, ns = format_coordinate(lat, 2, "NS")
        lon_s, ew = format_coordinate(lon, 3, "EW")
        hhmmss = when.strftime("%H%M%S.00")
        if not self.has_fix:
            gga = f"{self.talker}GGA,{hhmmss},,,,,0,00,99.99,,M,,M,,"
            rmc = f"{self.talker}RMC,{hhmmss},V,,,,,,,{when:%d%m%y},,,N"
            return [build(gga), build(rmc)]
        sats = 7 + int(2 * (1 + math.sin(t / 300)))
        alt = self.altitude + 1.5 * math.sin(t / 71)
        knots = self.speed_mps / KNOTS_TO_MPS
        gga = (
            f"{self.talker}GGA,{hhmmss},{lat_s},{ns},{lon_s},{ew},1,{sats:02d},0.9,"
            f"{alt:.1f},M,47.0,M,,"
        )
        rmc = (
            f"{self.talker}RMC,{hhmmss},A,{lat_s},{ns},{lon_s},{ew},{knots:.3f},,{when:%d%m%y},,,A"
        )
        return [build(gga), build(rmc)]
