"""The delivery worker: queue new alert state changes, send what is due, retry with back-off.

:func:`deliver_once` is one pass (tests call it with the time they choose): it queues the
deliveries of new state changes, then sends each due one, committing after each so a restart
resends nothing already recorded as sent and loses nothing pending. A failed attempt is
recorded with its reason and retried after ``retry_min_s`` doubling up to ``retry_max_s``;
after ``delivery_max_attempts`` the delivery is ``failed`` (kept, with every attempt). An
e-mail due in its recipient's quiet hours waits until they end, unless its rule is critical.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from agrifleet.fleet.alerts.delivery.enqueue import enqueue
from agrifleet.fleet.alerts.delivery.message import compose, webhook_body
from agrifleet.fleet.alerts.delivery.send import DeliveryError, post_webhook, send_email
from agrifleet.fleet.alerts.delivery.tables import Delivery, NotifySettings, Webhook
from agrifleet.fleet.alerts.tables import Alert
from agrifleet.fleet.people.tables import User
from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.ticker import Ticker

log = logging.getLogger(__name__)

#: At most this many deliveries per pass (the rest on the next).
BATCH = 100


@dataclass
class Pass:
    """What one pass did."""

    queued: list[int] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)


def quiet_until(settings: NotifySettings | None, now: datetime) -> datetime | None:
    """When the person's quiet hours end, if ``now`` is inside them; else None."""
    if settings is None or not settings.quiet_start or not settings.quiet_end:
        return None
    try:
        zone = ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    start, end = time.fromisoformat(settings.quiet_start), time.fromisoformat(settings.quiet_end)
    t = local.time().replace(tzinfo=None)
    inside = start <= t < end if start <= end else (t >= start or t < end)
    if not inside:
        return None
    ends = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if ends <= local:
        ends += timedelta(days=1)
    return ends.astimezone(UTC)


def backoff(attempts: int, settings: FleetSettings) -> timedelta:
    """The delay after the ``attempts``-th failed attempt."""
    seconds = settings.delivery_retry_min_s * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, settings.delivery_retry_max_s))


def _send(session: Session, delivery: Delivery, alert: Alert, settings: FleetSettings,
          now: datetime) -> str:
    assert delivery.id is not None
    if delivery.channel == "webhook":
        hook = session.get(Webhook, int(delivery.target))
        if hook is None or not hook.enabled:
            raise DeliveryError("the webhook was deleted or disabled")
        body = json.dumps(webhook_body(alert, delivery.state, delivery.language, delivery.id),
                          ensure_ascii=False, separators=(",", ":")).encode()
        return post_webhook(hook.url, hook.secret, body, delivery.id, settings.webhook_timeout_s,
                            allow_local=settings.webhook_allow_local)
    user = session.get(User, int(delivery.target))
    if user is None or not user.active:
        raise DeliveryError("the person is gone or inactive")
    if settings.smtp_host is None:
        raise DeliveryError("no SMTP server configured (AGRIFLEET_SMTP_HOST)")
    subject, text = compose(alert, delivery.state, delivery.language)
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return send_email(host=settings.smtp_host, port=settings.smtp_port,
                      sender=settings.smtp_from, to=user.email, subject=subject, text=text,
                      username=settings.smtp_username, password=password,
                      starttls=settings.smtp_starttls, timeout_s=settings.webhook_timeout_s)


def deliver_once(engine: Engine, settings: FleetSettings, now: datetime | None = None) -> Pass:
    """One pass at ``now`` (default: the clock)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    done = Pass()
    with Session(engine) as session:
        done.queued = enqueue(session, now, email=settings.smtp_host is not None)
        session.commit()
        due = session.exec(select(Delivery).where(col(Delivery.status) == "pending",
                                                  col(Delivery.next_attempt_at) <= now)
                           .order_by(col(Delivery.id)).limit(BATCH)).all()
        for delivery in due:
            assert delivery.id is not None
            alert = session.get(Alert, delivery.alert_id)
            if delivery.channel == "email" and not delivery.critical:
                until = quiet_until(session.get(NotifySettings, int(delivery.target)), now)
                if until is not None:
                    delivery.next_attempt_at = until
                    session.add(delivery)
                    session.commit()
                    done.deferred.append(delivery.id)
                    continue
            try:
                if alert is None:
                    raise DeliveryError("the alert is gone")
                detail, ok = _send(session, delivery, alert, settings, now), True
            except DeliveryError as exc:
                detail, ok = str(exc), False
            delivery.attempts = [*delivery.attempts,
                                 {"at": now.isoformat(), "ok": ok, "detail": detail[:200]}]
            if ok:
                delivery.status, delivery.sent_at = "sent", now
                done.sent.append(delivery.id)
            elif len(delivery.attempts) >= settings.delivery_max_attempts:
                delivery.status = "failed"
                done.failed.append(delivery.id)
                log.warning("delivery %d (%s) failed after %d attempts: %s", delivery.id,
                            delivery.channel, len(delivery.attempts), detail)
            else:
                delivery.next_attempt_at = now + backoff(len(delivery.attempts), settings)
                done.retried.append(delivery.id)
                log.info("delivery %d (%s) attempt %d failed (%s); retry at %s", delivery.id,
                         delivery.channel, len(delivery.attempts), detail,
                         delivery.next_attempt_at.isoformat())
            session.add(delivery)
            session.commit()
    return done


class DeliveryWorker:
    """Runs :func:`deliver_once` every ``settings.delivery_tick_s`` in a thread."""

    def __init__(self, settings: FleetSettings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.lock = threading.Lock()
        self._ticker = Ticker("fleet-delivery", settings.delivery_tick_s, self.deliver)

    def start(self) -> None:
        self._ticker.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._ticker.stop(timeout)

    def deliver(self, now: datetime | None = None) -> Pass:
        with self.lock:
            return deliver_once(self.engine, self.settings, now)
