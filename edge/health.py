"""The node's own health for Status messages: outbox, sensors, disk, CPU temperature, uptime,
and what is degraded (an outbox file that cannot be written)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from agrifleet import __version__
from agrifleet.contract import Health
from agrifleet.edge.clock import Clock
from agrifleet.edge.outbox import Outbox

THERMAL = Path("/sys/class/thermal")


def cpu_temp_c(root: Path = THERMAL) -> float | None:
    """The CPU (or first) thermal zone in °C, or None on boards without one."""
    zones = sorted(root.glob("thermal_zone*"))
    preferred = [z for z in zones if "cpu" in _read(z / "type").lower()]
    for zone in preferred + zones:
        raw = _read(zone / "temp")
        try:
            return round(int(raw) / 1000, 1)
        except ValueError:
            continue
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def disk_free_bytes(path: Path) -> int | None:
    """Free bytes on the file system holding ``path`` (or its nearest existing parent)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return None
    return None


class HealthProbe:
    """Collects a :class:`Health` snapshot from the running parts."""

    def __init__(
        self,
        outbox: Outbox,
        clock: Clock,
        data_dir: Path,
        sensor_errors: Callable[[], dict[str, int]] = dict,
        thermal_root: Path = THERMAL,
    ) -> None:
        self._outbox = outbox
        self._clock = clock
        self._data_dir = data_dir
        self._sensor_errors = sensor_errors
        self._thermal_root = thermal_root

    def collect(self) -> Health:
        stats = self._outbox.stats()
        now = self._clock.now()
        ages = []
        if stats.oldest_ts is not None and now.synced:
            ages.append(now.ts - stats.oldest_ts)
        if stats.oldest_unsynced_uptime_s is not None:
            ages.append(now.uptime_s - stats.oldest_unsynced_uptime_s)
        oldest_age = max(0.0, *ages) if ages else None
        return Health(
            outbox_depth=stats.depth,
            outbox_oldest_age_s=oldest_age,
            outbox_bytes=stats.stored_bytes,
            sensor_errors=self._sensor_errors(),
            disk_free_bytes=disk_free_bytes(self._data_dir),
            cpu_temp_c=cpu_temp_c(self._thermal_root),
            uptime_s=now.uptime_s,
            agent_version=__version__,
            degraded=self._outbox.degraded,
        )
