"""Polling: each sensor on its own interval; a silent sensor is reported once, retried, recovers.

The sensors here are small in-test Sensor implementations: these tests are about the agent's
scheduling, not a wire protocol (the simulators cover that in test_agent_sensors.py).
"""

from __future__ import annotations

import threading
from typing import Any

from agrifleet.edge.items import Priority
from agrifleet.edge.poller import PolledSensor, Poller, RetryPolicy
from agrifleet.hardware.sensor import Measurement, SensorError
from tests.edge.fleet_acker import wait_until


class Probe:
    """Answers with one measurement, or raises SensorError while ``broken`` is set."""

    def __init__(self, broken: threading.Event | None = None) -> None:
        self.broken = broken or threading.Event()
        self.closed = False

    def read(self) -> list[Measurement]:
        if self.broken.is_set():
            raise SensorError("no answer within 1.0 s")
        return [Measurement("soil_moisture", 31.5, "%"), Measurement("x", float("nan"), "%")]

    def close(self) -> None:
        self.closed = True


class Sink:
    """Collects what the poller commits, as Outbox.emit_all would receive it."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any], Priority]] = []
        self.lock = threading.Lock()

    def __call__(self, items: list[tuple[str, dict[str, Any], Priority]]) -> None:
        with self.lock:
            self.items.extend(items)

    def readings(self, sensor: str) -> int:
        with self.lock:
            return sum(1 for k, b, _ in self.items if k == "reading" and b["sensor"] == sensor)

    def events(self, code: str) -> list[dict[str, Any]]:
        with self.lock:
            return [b for k, b, _ in self.items if k == "event" and b["code"] == code]


def test_a_silent_sensor_is_reported_once_while_the_others_keep_being_served():
    broken = threading.Event()
    opened: list[Probe] = []

    def open_flaky() -> Probe:
        opened.append(Probe(broken))
        return opened[-1]

    sink = Sink()
    poller = Poller(
        [PolledSensor("good", 0.02, Probe), PolledSensor("flaky", 0.02, open_flaky)],
        sink,
        RetryPolicy(fail_threshold=3, retry_min_s=0.01, retry_max_s=0.05),
    )
    poller.start()
    try:
        wait_until(lambda: sink.readings("flaky") >= 2, what="first readings")
        broken.set()
        wait_until(lambda: poller.errors()["flaky"] >= 10, what="many failed retries")
        good_during_outage = sink.readings("good")
        wait_until(lambda: sink.readings("good") >= good_during_outage + 5,
                   what="the good sensor keeps its schedule")
        assert len(sink.events("sensor_down")) == 1, "one warning, not one per failure"
        assert poller.down == {"flaky"}
        assert opened[0].closed and len(opened) > 2, "a down sensor is reopened on retries"
        broken.clear()
        wait_until(lambda: sink.events("sensor_recovered"), what="recovery event")
        before = sink.readings("flaky")
        wait_until(lambda: sink.readings("flaky") > before, what="readings again")
    finally:
        poller.stop()
    (down,) = sink.events("sensor_down")
    (up,) = sink.events("sensor_recovered")
    assert (down["severity"], down["sensor"]) == ("warning", "flaky")
    assert "no answer" in down["message"]
    assert (up["severity"], up["sensor"]) == ("info", "flaky")
    assert poller.errors()["good"] == 0
    assert all(p == Priority.READING for k, _, p in sink.items if k == "reading")
    assert all(b["quantity"] != "x" for k, b, _ in sink.items if k == "reading"), "NaN dropped"


def test_a_sensor_that_cannot_even_open_is_retried_and_stop_is_prompt():
    def cannot_open() -> Probe:
        raise FileNotFoundError(2, "No such file or directory", "/dev/ttyUSB9")

    sink = Sink()
    poller = Poller([PolledSensor("gone", 3600, cannot_open)], sink,
                    RetryPolicy(fail_threshold=2, retry_min_s=0.01, retry_max_s=0.02))
    poller.start()
    wait_until(lambda: sink.events("sensor_down"), what="sensor_down")
    poller.stop(timeout=5)
    assert "ttyUSB9" in sink.events("sensor_down")[0]["message"]
    assert sink.readings("gone") == 0
