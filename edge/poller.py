"""Sensor polling: each sensor on its own thread and interval, failures retried with back-off.

A sensor that fails ``fail_threshold`` times in a row produces one warning event
(``sensor_down``), is closed and reopened on each retry (a USB adapter may come back), and is
retried with jittered exponential back-off while the other sensors keep their schedule. Its first
good read produces an info event (``sensor_recovered``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agrifleet.edge.backoff import Backoff
from agrifleet.edge.items import Priority
from agrifleet.edge.outbox import ItemRefused
from agrifleet.hardware.sensor import Measurement, Sensor, SensorError

log = logging.getLogger(__name__)

#: Commits one sensor read's items together (``Outbox.emit_all``).
EmitAll = Callable[[list[tuple[str, dict[str, Any], Priority]]], object]


@dataclass(frozen=True)
class PolledSensor:
    """A sensor to poll: its name in readings, its interval and how to open its driver."""

    name: str
    interval_s: float
    open: Callable[[], Sensor]


@dataclass(frozen=True)
class RetryPolicy:
    fail_threshold: int = 3
    retry_min_s: float = 1.0
    retry_max_s: float = 300.0


class Poller:
    """Owns the polling threads; :meth:`start`, :meth:`stop`, :meth:`errors` for health."""

    def __init__(
        self, sensors: list[PolledSensor], emit_all: EmitAll, policy: RetryPolicy | None = None
    ) -> None:
        self._sensors = sensors
        self._emit_all = emit_all
        self._policy = policy or RetryPolicy()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._errors: dict[str, int] = {s.name: 0 for s in sensors}
        self._reads: dict[str, int] = {s.name: 0 for s in sensors}
        self._down: set[str] = set()

    def start(self) -> None:
        for sensor in self._sensors:
            thread = threading.Thread(
                target=self._serve, args=(sensor,), name=f"poll-{sensor.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def errors(self) -> dict[str, int]:
        """Failed reads per sensor since the agent started."""
        return dict(self._errors)

    def reads(self) -> dict[str, int]:
        """Good reads per sensor since the agent started."""
        return dict(self._reads)

    @property
    def down(self) -> set[str]:
        return set(self._down)

    def _serve(self, spec: PolledSensor) -> None:
        policy = self._policy
        backoff = Backoff(policy.retry_min_s, policy.retry_max_s)
        driver: Sensor | None = None
        failures = 0
        failing_since = 0.0
        next_due = time.monotonic()
        try:
            while not self._stop.wait(max(0.0, next_due - time.monotonic())):
                try:
                    if driver is None:
                        driver = spec.open()
                    measurements = driver.read()
                except Exception as exc:
                    self._errors[spec.name] += 1
                    failures += 1
                    if failures == 1:
                        failing_since = time.monotonic()
                    if not isinstance(exc, SensorError):
                        log.warning("%s: unexpected %s from its driver: %s",
                                    spec.name, type(exc).__name__, exc)
                    if failures >= policy.fail_threshold:
                        _close(driver)
                        driver = None
                        if spec.name not in self._down:
                            self._down.add(spec.name)
                            self._event(spec.name, "warning", "sensor_down",
                                        f"{spec.name} stopped answering after {failures} "
                                        f"attempts: {exc}")
                    delay = backoff.next()
                    log.info("%s: read failed (%s); retry in %.1f s", spec.name, exc, delay)
                    next_due = time.monotonic() + delay
                    continue
                if spec.name in self._down:
                    self._down.discard(spec.name)
                    self._event(spec.name, "info", "sensor_recovered",
                                f"{spec.name} answers again after {failures} failed attempts "
                                f"({time.monotonic() - failing_since:.0f} s)")
                failures = 0
                backoff.reset()
                self._reads[spec.name] += 1
                self._emit_readings(spec.name, measurements)
                next_due = max(next_due + spec.interval_s, time.monotonic())
        finally:
            _close(driver)

    def _emit_readings(self, name: str, measurements: list[Measurement]) -> None:
        items = [
            ("reading", {"sensor": name, "quantity": m.quantity, "value": m.value,
                         "unit": m.unit}, Priority.READING)
            for m in measurements
            if math.isfinite(m.value)
        ]
        if not items:
            return
        try:
            self._emit_all(items)
        except ItemRefused as exc:
            log.warning("%s: readings refused by the outbox: %s", name, exc)
        except Exception:
            log.exception("%s: could not store readings", name)

    def _event(self, name: str, severity: str, code: str, message: str) -> None:
        (log.warning if severity == "warning" else log.info)("%s", message)
        body = {"severity": severity, "code": code, "message": message[:1024], "sensor": name}
        try:
            self._emit_all([("event", body, Priority.EVENT)])
        except Exception:
            log.exception("%s: could not store event %s", name, code)


def _close(driver: Sensor | None) -> None:
    if driver is not None:
        try:
            driver.close()
        except Exception as exc:
            log.debug("closing a sensor failed: %s", exc)
