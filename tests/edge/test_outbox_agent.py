"""A real agent process whose outbox disk fills up while the fleet is away: its status says it is
degraded, its alert reaches the fleet, it recovers when space comes back, and the gaps the fleet
sees are exactly the items the outbox counts as dropped."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from agrifleet.contract import Event
from agrifleet.edge.clock import Clock
from agrifleet.edge.outbox import UNWRITABLE, Outbox
from agrifleet.hardware.simulators import ModbusSoilSimulator
from tests.edge.fleet_acker import FleetAcker, wait_until
from tests.edge.small_disk import fill, tmpfs

ROOT = Path(__file__).resolve().parents[2]


def events(fleet: FleetAcker, code: str) -> list[Event]:
    return [i for i in fleet.items() if isinstance(i, Event) and i.code == code]


def degraded_lost(fleet: FleetAcker) -> int:
    """Items lost so far according to the newest status that says the outbox is degraded."""
    for status in reversed(fleet.statuses):
        why = status.health.degraded.get(UNWRITABLE) if status.health else None
        if why:
            match = re.search(r"(\d+) lost", why)
            return int(match.group(1)) if match else 0
    return 0


def test_a_full_disk_under_a_running_agent_loses_only_what_it_counts(broker, fleet, tmp_path):
    url = broker.add_device("field-07")
    with tmpfs(tmp_path / "disk", "2m") as disk, ModbusSoilSimulator() as soil:
        config = tmp_path / "agent.toml"
        config.write_text(
            f'device_id = "field-07"\ndata_dir = "{disk}"\nstatus_interval_s = 0.3\n'
            f'[mqtt]\nurl = "{url}"\nreconnect_min_s = 0.1\n[clock]\nsynced = "always"\n'
            f'[outbox]\nmemory_bytes = 65536\nretry_s = 0.2\nack_timeout_s = 1\n'
            f'seq_mark_dir = "{tmp_path}"\n'
            f'[polling]\nfail_threshold = 2\nretry_min_s = 0.1\nretry_max_s = 0.2\n'
            f'[[sensors]]\ntype = "modbus-soil"\nname = "soil"\nport = "{soil.path}"\n'
            "interval_s = 0.05\n"
        )
        command = [sys.executable, "-m", "agrifleet", "edge", "run", "--config", str(config)]
        agent = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: len(fleet.stored) == 1, what="first readings")
            fleet.acking = False  # the fleet is away: nothing leaves memory once the disk is full
            filler = fill(disk)
            wait_until(lambda: degraded_lost(fleet) > 0, timeout=60,
                       what="a degraded status that counts items lost from memory")
            assert events(fleet, UNWRITABLE), "the alert went out from memory"
            fleet.acking = True
            filler.unlink()
            wait_until(lambda: events(fleet, "outbox_writable"), timeout=30, what="recovery")
            soil.faults.silence = True  # no new readings: let the outbox drain
            wait_until(lambda: events(fleet, "sensor_down"), timeout=30, what="sensor_down")
            wait_until(lambda: any(s.health and s.health.outbox_depth == 0 and
                                   s.health.uptime_s > 0 and not s.health.degraded and
                                   s.ts and fleet.acked for s in fleet.statuses[-1:]),
                       timeout=30, what="an empty outbox")
        finally:
            agent.send_signal(signal.SIGTERM)
            _, err = agent.communicate(timeout=30)
        assert agent.returncode == 0, err[-2000:]
        outbox = Outbox.open(disk / "outbox.sqlite", device_id="field-07", boot_id="x",
                             clock=Clock("always"))
        dropped = outbox.stats().dropped
        outbox.close()

    (boot,) = fleet.stored
    stored = fleet.stored[boot]
    gaps = set(range(max(stored) + 1)) - stored
    assert dropped > 0 and len(gaps) == dropped, f"gaps {len(gaps)}, dropped {dropped}"
    (alert,) = events(fleet, UNWRITABLE)[:1]
    assert alert.severity == "alert" and "database or disk is full" in alert.message
    assert alert.seq in stored
    assert err.count("cannot store items") == 1 and "Traceback" not in err
    assert "cannot rollback" not in err
    print(f"seqs 0..{max(stored)}: {len(stored)} stored at the fleet, {len(gaps)} gaps, "
          f"{dropped} counted dropped")
