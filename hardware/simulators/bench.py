"""A set of simulators started together (for ``agrifleet sim sensors`` and the demo)."""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from agrifleet.hardware.simulators.base import PtySimulator
from agrifleet.hardware.simulators.modbus import ModbusAirSimulator, ModbusSoilSimulator
from agrifleet.hardware.simulators.nmea import NmeaGpsSimulator
from agrifleet.hardware.simulators.rain import RainGaugeSimulator
from agrifleet.hardware.simulators.sdi12 import Sdi12Simulator

logger = logging.getLogger(__name__)


class SimulatorBench:
    """``soil`` Modbus probes, ``sdi12`` SDI-12 probes, ``gps`` receivers, ``air`` XY-MD02
    probes and ``rain`` gauges, one thread each; weather follows a day of ``day_s`` seconds."""

    def __init__(
        self,
        *,
        soil: int = 1,
        sdi12: int = 1,
        gps: int = 1,
        soil_profile: str = "soil-7in1",
        sdi12_profile: str = "acclima-tdr",
        link_dir: str | None = None,
        seed: int | None = None,
        air: int = 0,
        rain: int = 0,
        day_s: float = 86400.0,
    ) -> None:
        self._own_dir = link_dir is None  # a temp dir of ours: removed with what is in it
        self._made_dir = link_dir is not None and not Path(link_dir).exists()  # removed if empty
        link_dir = link_dir or tempfile.mkdtemp(prefix="agrifleet-serial-")
        self.link_dir = link_dir
        try:
            self.simulators = self._simulators(
                soil, sdi12, gps, soil_profile, sdi12_profile, seed
            ) + self._weather(air, rain, seed, day_s)
        except BaseException:  # an unknown profile: leave no empty temp dir behind
            self._remove_dir()
            raise
        self.stopped = threading.Event()

    def _simulators(
        self,
        soil: int,
        sdi12: int,
        gps: int,
        soil_profile: str,
        sdi12_profile: str,
        seed: int | None,
    ) -> list[PtySimulator]:
        link_dir = self.link_dir
        seeds = iter(range(seed or 0, (seed or 0) + soil + sdi12 + gps))
        pick = (lambda: next(seeds)) if seed is not None else (lambda: None)
        return [
            *(
                ModbusSoilSimulator(soil_profile, link_dir=link_dir, seed=pick())
                for _ in range(soil)
            ),
            *(
                Sdi12Simulator(profile=sdi12_profile, link_dir=link_dir, seed=pick())
                for _ in range(sdi12)
            ),
            *(
                NmeaGpsSimulator(
                    48.1173 + 0.01 * i, 11.5167 + 0.01 * i, link_dir=link_dir, seed=pick()
                )
                for i in range(gps)
            ),
        ]

    def _weather(
        self, air: int, rain: int, seed: int | None, day_s: float
    ) -> list[PtySimulator]:
        base = None if seed is None else seed + 1000
        pick = (lambda i: None) if base is None else (lambda i: base + i)
        return [
            *(
                ModbusAirSimulator(link_dir=self.link_dir, seed=pick(i), day_s=day_s)
                for i in range(air)
            ),
            *(
                RainGaugeSimulator(link_dir=self.link_dir, seed=pick(air + i), day_s=day_s)
                for i in range(rain)
            ),
        ]

    def start(self) -> SimulatorBench:
        """Start every simulator."""
        for sim in self.simulators:
            sim.start()
        return self

    def stop(self) -> None:
        """Stop every simulator."""
        self.stopped.set()
        for sim in self.simulators:
            sim.stop()
        self._remove_dir()

    def _remove_dir(self) -> None:
        if self._own_dir:
            shutil.rmtree(self.link_dir, ignore_errors=True)
        elif self._made_dir:
            with contextlib.suppress(OSError):  # something of someone else's is in it: keep it
                Path(self.link_dir).rmdir()

    def run_faults(
        self,
        faults: list[str],
        period: float,
        replugged: Callable[[PtySimulator], None] | None = None,
    ) -> None:
        """Until stopped: every ``period`` seconds switch the named faults on, then off."""
        on = False
        while not self.stopped.wait(period if faults else 3600):
            if not faults:
                continue
            on = not on
            logger.info("faults %s %s", ", ".join(faults), "on" if on else "off")
            for sim in self.simulators:
                for fault in faults:
                    if fault != "unplug":
                        setattr(sim.faults, fault, on)
                    elif on:
                        sim.unplug()
                    else:
                        sim.replug()
                        if replugged is not None:
                            replugged(sim)

    def __enter__(self) -> SimulatorBench:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
