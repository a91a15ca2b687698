"""Memory of a farm export: the peak resident size of ``agrifleet fleet export`` on farms of
growing size, which stays flat because the ZIP is written as it is read.

Fills a fresh SQLite database with two farms: the exported one (two devices sharing
``--readings`` readings) and a neighbour with a tenth as many, which the export must leave
out. Each export runs in its own process; its peak resident size is that process's own
(``wait4``), and its resident size is sampled every second to show it does not climb. Prints
the commit and the machine with the figures, as the other benchmarks do.

    nice -n 19 .venv/bin/python -m benchmarks.export_memory --readings 1000000 10000000
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from agrifleet.fleet.db import make_engine
from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.migrate import upgrade
from agrifleet.fleet.people.tables import Farm
from benchmarks.record import commit, machine

#: Rows per ``executemany`` and per transaction while filling.
BATCH = 200_000
FARM, NEIGHBOUR = 1, 2


def _rows(device: str, count: int, start: int = 0) -> Iterator[tuple[object, ...]]:
    t0 = datetime(2024, 1, 1)
    for i in range(start, start + count):
        ts = (t0 + timedelta(seconds=30 * i)).strftime("%Y-%m-%d %H:%M:%S.%f")
        yield (device, "b", i, ts, float(i), 1, 0, "soil", "moisture", 20.0 + (i % 100) / 10,
               "%", ts)


def fill(path: Path, readings: int) -> float:
    """A fleet database of two farms; the seconds it took."""
    started = time.monotonic()
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(Farm).values(id=NEIGHBOUR, name="Nông trại bên cạnh 隔壁农场"))
        conn.execute(insert(Device), [
            {"id": "bench-1", "name": "Ruộng 1", "farm_id": FARM},
            {"id": "bench-2", "name": "Ruộng 2", "farm_id": FARM},
            {"id": "other-1", "name": "Hàng xóm", "farm_id": NEIGHBOUR}])
    engine.dispose()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    plan = [("bench-1", readings - readings // 2), ("bench-2", readings // 2),
            ("other-1", readings // 10)]
    sql = ("INSERT INTO reading (device_id, boot_id, seq, ts, uptime_s, clock_synced, future, "
           "sensor, quantity, value, unit, stored_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)")
    for device, count in plan:
        for start in range(0, count, BATCH):
            with db:
                db.executemany(sql, _rows(device, min(BATCH, count - start), start))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return time.monotonic() - started


def _rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def export(tmp: Path, db: Path) -> tuple[float, float, list[float], Path]:
    """(seconds, peak RSS MiB, RSS samples MiB, the ZIP) of ``agrifleet fleet export``."""
    env = {**os.environ, "AGRIFLEET_DATABASE_URL": f"sqlite:///{db}",
           "AGRIFLEET_DATA_DIR": str(tmp)}
    out = tmp / "farm.zip"
    samples: list[float] = []
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "agrifleet", "fleet", "export", "--farm", str(FARM), "--out",
         str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(1.0):
            if (rss := _rss_mib(child.pid)) is not None:
                samples.append(rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(child.pid, 0)
    done.set()
    sampler.join()
    seconds = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"export failed ({child.returncode}): "
                         f"{child.stderr.read().decode() if child.stderr else ''}")
    return seconds, usage.ru_maxrss / 1024, samples, out


def rows_in(out: Path) -> int:
    """The readings the ZIP's manifest counts (the neighbour's must not be among them)."""
    import json

    with zipfile.ZipFile(out) as archive:
        manifest = json.load(archive.open("manifest.json"))
    return next(f["rows"] for f in manifest["files"] if f["path"] == "readings.csv")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the databases go (a fresh temporary folder by default)")
    args = parser.parse_args()
    print(f"# commit {commit()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"# {machine()}")
    print("readings,fill_s,export_s,peak_rss_mib,rss_p10_mib,rss_p90_mib,zip_bytes,"
          "readings_in_zip", flush=True)
    for count in args.readings:
        with tempfile.TemporaryDirectory(dir=args.dir) as name:
            tmp = Path(name)
            filled = fill(tmp / "fleet.db", count)
            seconds, peak, samples, out = export(tmp, tmp / "fleet.db")
            exported = rows_in(out)
            if exported != count:
                raise SystemExit(f"the ZIP holds {exported} readings, not {count}")
            ordered = sorted(samples) or [peak]
            p10 = ordered[len(ordered) // 10]
            p90 = ordered[len(ordered) * 9 // 10]
            print(f"{count},{filled:.0f},{seconds:.0f},{peak:.0f},{p10:.0f},{p90:.0f},"
                  f"{out.stat().st_size},{exported}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
