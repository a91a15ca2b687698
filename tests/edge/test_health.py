"""Health in Status messages: outbox depth and age, disk free, CPU temperature where present."""

from __future__ import annotations

from agrifleet.edge.clock import Clock
from agrifleet.edge.health import HealthProbe, cpu_temp_c, disk_free_bytes
from agrifleet.edge.items import Priority
from agrifleet.edge.outbox import Outbox


def thermal_zone(root, n: int, kind: str, millideg: str) -> None:
    zone = root / f"thermal_zone{n}"
    zone.mkdir(parents=True)
    (zone / "type").write_text(kind + "\n")
    (zone / "temp").write_text(millideg + "\n")


def test_cpu_temperature_prefers_the_cpu_zone(tmp_path):
    thermal_zone(tmp_path, 0, "gpu-thermal", "39000")
    thermal_zone(tmp_path, 1, "cpu-thermal", "52312")
    assert cpu_temp_c(tmp_path) == 52.3


def test_no_thermal_zone_means_no_temperature(tmp_path):
    assert cpu_temp_c(tmp_path / "absent") is None
    thermal_zone(tmp_path, 0, "cpu-thermal", "garbage")
    assert cpu_temp_c(tmp_path) is None


def test_disk_free_of_a_folder_not_created_yet(tmp_path):
    free = disk_free_bytes(tmp_path / "not" / "yet")
    assert free is not None and free > 0


def test_health_reports_the_outbox(tmp_path):
    clock = Clock("always")
    outbox = Outbox.open(tmp_path / "o.sqlite", device_id="d", boot_id="b", clock=clock)
    outbox.emit("reading", {"sensor": "s", "quantity": "q", "value": 1.0, "unit": "%"},
                Priority.READING)
    thermal_zone(tmp_path / "thermal", 0, "cpu-thermal", "48000")
    probe = HealthProbe(outbox, clock, tmp_path, lambda: {"soil": 3}, tmp_path / "thermal")
    health = probe.collect()
    assert health.outbox_depth == 1 and health.outbox_bytes > 0
    assert health.outbox_oldest_age_s is not None and health.outbox_oldest_age_s >= 0
    assert health.sensor_errors == {"soil": 3}
    assert health.cpu_temp_c == 48.0 and health.uptime_s > 0


def test_outbox_age_on_a_node_whose_clock_is_not_synced_comes_from_uptime(tmp_path):
    now = {"uptime": 100.0}
    clock = Clock("never", wall=lambda: 5.0, uptime=lambda: now["uptime"])
    outbox = Outbox.open(tmp_path / "o.sqlite", device_id="d", boot_id="b", clock=clock)
    outbox.emit("reading", {"sensor": "s", "quantity": "q", "value": 1.0, "unit": "%"},
                Priority.READING)
    now["uptime"] = 130.0
    health = HealthProbe(outbox, clock, tmp_path).collect()
    assert health.outbox_oldest_age_s == 30.0
