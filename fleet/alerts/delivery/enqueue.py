"""Alert state changes → deliveries: one per farm webhook and per member who wants e-mail.

An alert's change to ``active`` (opened) and to ``cleared`` is queued once: an
:class:`AlertNotice` row marks it, and the deliveries' unique key refuses a second message for
the same alert, state, channel and recipient. Changes older than :data:`MAX_AGE` are not
announced (a fleet upgraded with old alerts does not mail their history).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session, col, or_, select

from agrifleet.fleet.alerts.delivery.tables import AlertNotice, Delivery, NotifySettings, Webhook
from agrifleet.fleet.alerts.tables import OPEN_STATES, Alert, AlertRule
from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.people.tables import Membership, User

log = logging.getLogger(__name__)

MAX_AGE = timedelta(days=1)


def farm_of(session: Session, alert: Alert) -> int | None:
    """A device's alert: its device's farm; a field's alert: its own farm_id."""
    device = session.get(Device, alert.device_id) if alert.device_id else None
    return device.farm_id if device is not None else alert.farm_id


def enqueue(session: Session, now: datetime, *, email: bool) -> list[int]:
    """Queue the deliveries of new state changes; their ids (not committed)."""
    since = now - MAX_AGE
    alerts = session.exec(select(Alert).where(or_(
        col(Alert.state).in_(OPEN_STATES) & (col(Alert.first_seen) >= since),
        (col(Alert.state) == "cleared") & (col(Alert.cleared_at) >= since),
    )).order_by(col(Alert.id))).all()
    queued: list[int] = []
    for alert in alerts:
        assert alert.id is not None
        state = "cleared" if alert.state == "cleared" else "active"
        if session.get(AlertNotice, (alert.id, state)) is not None:
            continue
        session.add(AlertNotice(alert_id=alert.id, state=state, queued_at=now))
        farm = farm_of(session, alert)
        rule = session.get(AlertRule, alert.rule_id)
        critical = bool(rule is not None and rule.critical)
        hooks = session.exec(select(Webhook).where(
            col(Webhook.enabled),
            col(Webhook.farm_id).is_(None) | (col(Webhook.farm_id) == farm),
        )).all()
        rows = [Delivery(alert_id=alert.id, state=state, channel="webhook", target=str(h.id),
                         language=h.language, critical=critical, next_attempt_at=now,
                         created_at=now) for h in hooks]
        if email and farm is not None:
            members = session.exec(
                select(User).join(Membership, col(Membership.user_id) == col(User.id))
                .where(col(Membership.farm_id) == farm, col(User.active))).all()
            for user in members:
                settings = session.get(NotifySettings, user.id)
                if settings is not None and not settings.email:
                    continue
                rows.append(Delivery(alert_id=alert.id, state=state, channel="email",
                                     target=str(user.id), language=user.language or "en",
                                     critical=critical, next_attempt_at=now, created_at=now))
        for row in rows:
            session.add(row)
        session.flush()
        queued += [r.id for r in rows if r.id is not None]
    return queued
