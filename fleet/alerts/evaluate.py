"""The alert evaluator: each tick, open, repeat and clear alerts from the rules.

:func:`evaluate_once` is one tick in one transaction: for every enabled rule it finds the
conditions that hold now (a new disease detection, a reading out of range long enough, a node
offline, an outbox backlog, a field's disease risk, a disease spreading in a field), opens an
alert per new (rule, device, condition), bumps the open
one's ``count`` and ``last_seen`` on a repeat, and clears alerts whose condition is gone (a
disease alert: acknowledged and quiet for the rule's ``quiet_s``). :class:`AlertEvaluator` runs
it in a thread started by ``create_app``, like the rollout engine.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func
from sqlalchemy import select as select_columns
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from agrifleet.fleet.alerts.field_conditions import risk_conditions, spread_conditions
from agrifleet.fleet.alerts.tables import CODES, OPEN_STATES, Alert, AlertRule
from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.telemetry.queries import heard_since
from agrifleet.fleet.telemetry.tables import Detection, LatestReading, Reading
from agrifleet.fleet.ticker import Ticker
from agrifleet.inference.parts import crop_name, disease_name

log = logging.getLogger(__name__)

#: At most this many new detections per disease rule and tick (the rest on the next tick).
DETECTIONS_PER_TICK = 5000
ENGINE = "engine"

#: (device id, condition) → the alert's params.
Conditions = dict[tuple[str, str], dict[str, Any]]


@dataclass
class Tick:
    """What one evaluation did."""

    opened: list[int] = field(default_factory=list)
    repeated: list[int] = field(default_factory=list)
    cleared: list[int] = field(default_factory=list)


def open_key(rule_id: int, device_id: str, condition: str) -> str:
    return f"{rule_id}/{device_id}/{condition}"


def evaluate_once(engine: Engine, now: datetime | None = None, *,
                  offline_after_s: int | None = None) -> Tick:
    """One evaluation of every enabled rule at ``now`` (default: the clock), committed."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    if offline_after_s is None:
        offline_after_s = int(FleetSettings.model_fields["offline_after_s"].default)
    tick = Tick()
    with Session(engine) as session:
        rules = session.exec(select(AlertRule).where(col(AlertRule.enabled))
                             .order_by(col(AlertRule.id))).all()
        for rule in rules:
            if rule.kind == "disease":
                _apply(session, rule, _new_detections(session, rule), now, tick, repeat=True)
                _clear_quiet(session, rule, now, tick)
            elif rule.kind == "risk":
                found, unknown = risk_conditions(session, rule, now)
                _apply(session, rule, found, now, tick, repeat=False)
                _clear_gone(session, rule, {**{key: {} for key in unknown}, **found}, now, tick)
            elif rule.kind == "disease_spread":
                found = spread_conditions(session, rule, now)
                _apply(session, rule, found, now, tick, repeat=False)
                _clear_gone(session, rule, found, now, tick)
            else:
                found = _state_conditions(session, rule, now, offline_after_s)
                _apply(session, rule, found, now, tick, repeat=False)
                _clear_gone(session, rule, found, now, tick)
        session.commit()
    return tick


# --- finding conditions ----------------------------------------------------------------------


def _new_detections(session: Session, rule: AlertRule) -> Conditions:
    """Matching detections since the rule's cursor, per device and label; moves the cursor."""
    assert rule.id is not None
    newest = session.exec(select(func.max(Detection.id))).one() or 0
    where: list[ColumnElement[bool]] = [
        col(Detection.id) > rule.last_detection_id,
        col(Detection.id) <= newest,
        ~col(Detection.uncertain),
        col(Detection.confidence) >= (rule.min_confidence or 0.0),
        ~col(Detection.label).endswith("healthy"),
        col(Detection.label) != "uncertain",
    ]
    if rule.label is not None:
        where.append(col(Detection.label) == rule.label)
    if rule.device_id is not None:
        where.append(col(Detection.device_id) == rule.device_id)
    where += _in_rule_farm(rule, Detection.device_id)
    rows = session.execute(
        select_columns(col(Detection.id), col(Detection.device_id), col(Detection.label),
                       col(Detection.confidence), col(Detection.ts))
        .where(*where).order_by(col(Detection.id)).limit(DETECTIONS_PER_TICK)
    ).all()
    found: Conditions = {}
    for det_id, device_id, label, confidence, ts in rows:
        params = found.setdefault((device_id, label), {
            "label": label, "crop": crop_name(label), "disease": disease_name(label),
            "confidence": 0.0, "min_confidence": rule.min_confidence, "detections": 0,
        })
        params["confidence"] = round(max(params["confidence"], float(confidence)), 4)
        params["detections"] += 1
        params["detection_id"] = det_id
        params["detected_at"] = ts.isoformat()
    rule.last_detection_id = rows[-1][0] if len(rows) == DETECTIONS_PER_TICK else newest
    session.add(rule)
    return found


def _state_conditions(session: Session, rule: AlertRule, now: datetime,
                      offline_after_s: int) -> Conditions:
    if rule.kind == "reading_range":
        return _out_of_range(session, rule)
    devices = session.exec(select(Device).where(*_device_filter(rule))).all()
    found: Conditions = {}
    if rule.kind == "offline":
        for device in devices:
            if device.last_seen is None:  # never heard from: still being set up
                continue
            online = device.online and device.last_seen >= heard_since(offline_after_s, now)
            if not online:
                found[(device.id, "offline")] = {
                    "last_seen": device.last_seen.isoformat(),
                    "offline_after_s": offline_after_s,
                }
    elif rule.kind == "backlog":
        limit = rule.max_backlog or 0
        for device in devices:
            depth = (device.health or {}).get("outbox_depth")
            if isinstance(depth, int | float) and depth == depth and depth > limit:
                found[(device.id, "backlog")] = {
                    "depth": int(depth) if abs(depth) < 2**62 else str(depth),
                    "max_backlog": limit,
                    "oldest_age_s": (device.health or {}).get("outbox_oldest_age_s"),
                }
    return found


def _device_filter(rule: AlertRule) -> list[ColumnElement[bool]]:
    return ([] if rule.device_id is None else [col(Device.id) == rule.device_id]) + (
        [] if rule.farm_id is None else [col(Device.farm_id) == rule.farm_id])


def _in_rule_farm(rule: AlertRule, device_id: Any) -> list[ColumnElement[bool]]:
    """A farm's rule watches only that farm's devices (a fleet-wide rule: every device)."""
    if rule.farm_id is None:
        return []
    return [col(device_id).in_(select(Device.id).where(col(Device.farm_id) == rule.farm_id))]


def _in_range(rule: AlertRule, value: Any) -> ColumnElement[bool]:
    checks: list[ColumnElement[bool]] = []
    if rule.min_value is not None:
        checks.append(value >= rule.min_value)
    if rule.max_value is not None:
        checks.append(value <= rule.max_value)
    out = checks[0]
    for check in checks[1:]:
        out = out & check
    return out


def _out_of_range(session: Session, rule: AlertRule) -> Conditions:
    """Series whose latest reading is out of range, and has been for at least ``for_s``."""
    where = [col(LatestReading.quantity) == rule.quantity]
    if rule.sensor is not None:
        where.append(col(LatestReading.sensor) == rule.sensor)
    if rule.device_id is not None:
        where.append(col(LatestReading.device_id) == rule.device_id)
    where += _in_rule_farm(rule, LatestReading.device_id)
    where.append(~_in_range(rule, col(LatestReading.value)))
    found: Conditions = {}
    for latest in session.exec(select(LatestReading).where(*where)).all():
        series = [col(Reading.device_id) == latest.device_id,
                  col(Reading.sensor) == latest.sensor,
                  col(Reading.quantity) == latest.quantity,
                  ~col(Reading.future), col(Reading.ts) <= latest.ts]
        last_in = session.exec(
            select(func.max(Reading.ts)).where(*series, _in_range(rule, col(Reading.value)))
        ).one()
        after = [] if last_in is None else [col(Reading.ts) > last_in]
        since = session.exec(select(func.min(Reading.ts)).where(*series, *after)).one()
        since = _aware(since) if since is not None else _aware(latest.ts)
        duration = (_aware(latest.ts) - since).total_seconds()
        if duration < (rule.for_s or 0.0):
            continue
        found[(latest.device_id, f"{latest.sensor}/{latest.quantity}")] = {
            "sensor": latest.sensor, "quantity": latest.quantity, "value": latest.value,
            "unit": latest.unit, "min": rule.min_value, "max": rule.max_value,
            "for_s": rule.for_s, "since": since.isoformat(), "ts": _aware(latest.ts).isoformat(),
        }
    return found


def _aware(moment: datetime) -> datetime:
    """SQLite's aggregate functions return text-free naive times: they are UTC."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- opening, repeating, clearing ------------------------------------------------------------


def _open_alerts(session: Session, rule: AlertRule) -> list[Alert]:
    return list(session.exec(select(Alert).where(col(Alert.rule_id) == rule.id,
                                                 col(Alert.state).in_(OPEN_STATES))).all())


def _apply(session: Session, rule: AlertRule, found: Conditions, now: datetime, tick: Tick,
           *, repeat: bool) -> None:
    """Open an alert per new condition; on a held one bump last_seen (and count: a repeat)."""
    assert rule.id is not None
    if not found:
        return
    by_key = {a.open_key: a for a in _open_alerts(session, rule)}
    for (device_id, condition), params in sorted(found.items()):
        key = open_key(rule.id, device_id, condition)
        alert = by_key.get(key)
        if alert is None:
            alert = Alert(rule_id=rule.id, kind=rule.kind, code=CODES[rule.kind], params=params,
                          device_id=device_id, farm_id=params.get("farm_id", rule.farm_id),
                          field_id=params.get("field_id"), condition=condition[:200],
                          open_key=key, state="active",
                          count=int(params.get("detections", 1)), first_seen=now, last_seen=now)
            session.add(alert)
            session.flush()
            assert alert.id is not None
            tick.opened.append(alert.id)
            continue
        if repeat:
            alert.count += int(params.get("detections", 1))
            params = {**params, "confidence": max(params.get("confidence", 0.0),
                                                  alert.params.get("confidence", 0.0))}
            assert alert.id is not None
            tick.repeated.append(alert.id)
        alert.params = params
        alert.last_seen = now
        session.add(alert)


def _clear(alert: Alert, now: datetime, reason: str, by: str = ENGINE) -> None:
    alert.state = "cleared"
    alert.open_key = None
    alert.cleared_at = now
    alert.cleared_by = by
    alert.cleared_reason = reason


def _clear_gone(session: Session, rule: AlertRule, found: Conditions, now: datetime,
                tick: Tick) -> None:
    for alert in _open_alerts(session, rule):
        if (alert.device_id, alert.condition) not in found:
            _clear(alert, now, "condition_gone")
            session.add(alert)
            assert alert.id is not None
            tick.cleared.append(alert.id)


def _clear_quiet(session: Session, rule: AlertRule, now: datetime, tick: Tick) -> None:
    quiet = timedelta(seconds=rule.quiet_s or 0.0)
    for alert in _open_alerts(session, rule):
        if alert.state == "acknowledged" and now - alert.last_seen >= quiet:
            _clear(alert, now, "quiet_period")
            session.add(alert)
            assert alert.id is not None
            tick.cleared.append(alert.id)


def clear_rule_alerts(session: Session, rule_id: int, now: datetime, by: str,
                      reason: str = "rule_changed") -> list[int]:
    """Clear every open alert of a rule (changed, disabled or deleted); their ids."""
    alerts = session.exec(select(Alert).where(col(Alert.rule_id) == rule_id,
                                              col(Alert.state).in_(OPEN_STATES))).all()
    for alert in alerts:
        _clear(alert, now, reason, by)
        session.add(alert)
    return [a.id for a in alerts if a.id is not None]


def newest_detection_id(session: Session) -> int:
    return int(session.exec(select(func.max(Detection.id))).one() or 0)


class AlertEvaluator:
    """Runs :func:`evaluate_once` every ``settings.alert_tick_s`` in a thread."""

    def __init__(self, settings: FleetSettings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.lock = threading.Lock()
        self._ticker = Ticker("fleet-alerts", settings.alert_tick_s, self.evaluate)

    def start(self) -> None:
        self._ticker.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._ticker.stop(timeout)

    def evaluate(self, now: datetime | None = None) -> Tick:
        with self.lock:
            return evaluate_once(self.engine, now, offline_after_s=self.settings.offline_after_s)

