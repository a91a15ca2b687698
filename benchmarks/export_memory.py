"""Memory of a farm export: the peak resident size of ``agrifleet fleet export`` on farms of
growing size, which stays flat because the ZIP is written as it is read.

Fills a fresh SQLite database with one farm, one device and ``--readings`` readings (each run
is its own process, so ``ru_maxrss`` is the export's own peak), then exports it to a file.

    nice -n 15 .venv/bin/python -m benchmarks.export_memory --readings 100000 1000000
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from fleet.db import make_engine
from fleet.devices.tables import Device
from fleet.migrate import upgrade
from fleet.telemetry.tables import Reading

BATCH = 50_000


def fill(url: str, readings: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(insert(Device).values(id="bench-1", name="Ruộng 1", farm_id=1))
    for start in range(0, readings, BATCH):
        rows = [{"device_id": "bench-1", "boot_id": "b", "seq": i,
                 "ts": t0 + timedelta(seconds=60 * i), "uptime_s": float(i),
                 "clock_synced": True, "sensor": "soil", "quantity": "moisture",
                 "value": 20.0 + (i % 100) / 10, "unit": "%", "stored_at": t0}
                for i in range(start, min(readings, start + BATCH))]
        with engine.begin() as conn:
            conn.execute(insert(Reading), rows)
    engine.dispose()


def measure(readings: int) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB, ZIP bytes) of exporting a farm of ``readings`` readings."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/fleet.db"
        fill(url, readings)
        env = {**os.environ, "AGRIFLEET_DATABASE_URL": url, "AGRIFLEET_DATA_DIR": tmp}
        out = Path(tmp) / "farm.zip"
        start = time.monotonic()
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        subprocess.run([sys.executable, "-m", "agrifleet", "fleet", "export", "--farm", "1",
                        "--out", str(out)], env=env, check=True, capture_output=True)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        return time.monotonic() - start, max(peak, before) / 1024, out.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    print("readings,seconds,peak_rss_mib,zip_bytes")
    for count in args.readings:
        seconds, rss, size = measure(count)
        print(f"{count},{seconds:.1f},{rss:.0f},{size}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
