"""A bench of simulators starts together, toggles faults on a period, and cleans up after itself."""

from __future__ import annotations

import threading
from pathlib import Path

from agrifleet.hardware.simulators.base import PtySimulator
from agrifleet.hardware.simulators.bench import SimulatorBench


def test_faults_toggle_and_unplugged_devices_come_back_under_new_paths() -> None:
    replugged: list[tuple[str, str]] = []
    done = threading.Event()

    def seen(sim: PtySimulator) -> None:
        replugged.append((sim.kind, sim.path))
        done.set()

    with SimulatorBench(soil=1, sdi12=1, gps=0, seed=5) as bench:
        link_dir = Path(bench.link_dir)
        before = {sim.kind: sim.path for sim in bench.simulators}
        worker = threading.Thread(
            target=bench.run_faults, args=(["noise", "unplug"], 0.05, seen), daemon=True
        )
        worker.start()
        assert done.wait(5)
        bench.stopped.set()
        worker.join(5)
        assert {kind for kind, _ in replugged} == {"modbus-soil", "sdi12"}
        assert all(path != before[kind] for kind, path in replugged)
    assert not link_dir.exists()
