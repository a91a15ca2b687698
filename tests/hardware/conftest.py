"""Simulators on real pseudo-terminals, one per test, links in the test's own temp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agrifleet.hardware.simulators import ModbusSoilSimulator, NmeaGpsSimulator, Sdi12Simulator


@pytest.fixture
def soil_sim(tmp_path: Path) -> Iterator[ModbusSoilSimulator]:
    """A soil-7in1 Modbus probe at address 1."""
    with ModbusSoilSimulator("soil-7in1", link_dir=str(tmp_path), seed=1) as sim:
        yield sim


@pytest.fixture
def sdi12_sim(tmp_path: Path) -> Iterator[Sdi12Simulator]:
    """An Acclima TDR-like SDI-12 probe at address 0 (CRC data), ready 50 ms after aMC!."""
    with Sdi12Simulator(
        "0", "acclima-tdr", ready_after=0.05, link_dir=str(tmp_path), seed=2
    ) as sim:
        yield sim


@pytest.fixture
def gps_sim(tmp_path: Path) -> Iterator[NmeaGpsSimulator]:
    """A GPS sending GGA and RMC ten times a second."""
    with NmeaGpsSimulator(-33.8688, 151.2093, interval=0.1, link_dir=str(tmp_path), seed=3) as sim:
        yield sim
