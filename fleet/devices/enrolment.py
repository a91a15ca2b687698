"""Enrolment: a technician's one-time code turns a node in its box into a device with its own
credentials; revocation takes them away again.

1. :func:`issue_code` (technician): a new code for a device, valid ``enrolment_code_ttl_s``.
   If the device had been enrolled, its old secrets are revoked first (broker account deleted,
   credential hash dropped, earlier codes void): asking for a new code IS re-enrolling.
2. :func:`enrol` (the node, with nothing but the code): the code is used up, the node's own
   broker password goes to the broker (which hashes it) and the hash of its device credential is
   stored; the node gets back what its config needs (:class:`EnrolAnswer`).
3. :func:`revoke` (technician): the device's messages are refused from then on and its broker
   account is deleted, which closes its open session.

A code has 100 random bits written as 20 base32 letters and digits in groups of four
(``K7QD-3MZP-...``), so it can be typed from a label; it is stored as its SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import re
import secrets
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from agrifleet.fleet.devices.broker_accounts import BrokerAccounts, BrokerUnavailable
from agrifleet.fleet.devices.tables import Device, DeviceCredential, EnrolmentCode
from agrifleet.fleet.settings import FleetSettings
from agrifleet.mqtt import parse_mqtt_url

log = logging.getLogger(__name__)
audit_log = logging.getLogger("agrifleet.fleet.people.audit")

CODE_GROUPS = 5
_GROUP = 4
_CODE_CHARS = CODE_GROUPS * _GROUP
_CODE_RE = re.compile(rf"^[A-Z2-7]{{{_CODE_CHARS}}}$")

__all__ = ["BrokerUnavailable", "EnrolAnswer", "EnrolRequest", "EnrolmentError", "enrol",
           "issue_code", "new_code", "qr_png", "revoke"]


class EnrolmentError(Exception):
    """A refused enrolment: ``status`` is the HTTP status, the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


#: The one answer for a code that does not exist and one already used: a guesser learns nothing.
INVALID_CODE = "unknown or already used enrolment code; ask a technician for a new one"
CREDENTIAL_TAKEN = ("that device credential is taken: the node makes a new one and enrols "
                    "again with the same code")


def new_code() -> str:
    """100 random bits as ``XXXX-XXXX-XXXX-XXXX-XXXX`` (base32: A-Z, 2-7)."""
    text = base64.b32encode(secrets.token_bytes(_CODE_CHARS * 5 // 8)).decode()
    return "-".join(text[i:i + _GROUP] for i in range(0, _CODE_CHARS, _GROUP))


def normalize_code(text: str) -> str | None:
    """The code's 20 characters (case, dashes and spaces ignored), or None if it is not one."""
    plain = re.sub(r"[\s-]", "", text).upper()
    return plain if _CODE_RE.match(plain) else None


def hash_code(code: str) -> str:
    plain = normalize_code(code) or code
    return hashlib.sha256(plain.encode()).hexdigest()


def qr_png(text: str, scale: int = 8) -> bytes:
    """A PNG QR code holding ``text`` (for a technician's phone)."""
    import segno

    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def enrol_command(code: str, fleet_url: str | None) -> str:
    """What a QR code holds: the command to run on the node, or just the code."""
    if fleet_url is None:
        return code
    return f"agrifleet edge enroll --fleet {fleet_url} --code {code}"


def audit(session: Session | None, actor: str, action: str, target: str, address: str | None,
          **details: Any) -> None:
    """Record a security action (who, what, on what, from where) in the audit log and commit it
    (enrolment calls it after its own commit, or just before refusing); never a secret in
    ``details``. Without a session (no database at hand) it is a log line only."""
    audit_log.info(json.dumps({"ts": datetime.now(UTC).isoformat(), "actor": actor,
                               "action": action, "target": target, "address": address,
                               **details}, default=str))
    if session is not None:
        from agrifleet.fleet.people.audit import record

        record(session, actor, action, target, address, **details)
        session.commit()


def _now() -> datetime:
    return datetime.now(UTC)


# --- 1. a code --------------------------------------------------------------------------------


def _revoke_secrets(session: Session, device_id: str, now: datetime) -> bool:
    """Void unused codes, drop the credential hash; True when the device had been enrolled."""
    session.execute(update(EnrolmentCode)
                    .where(col(EnrolmentCode.device_id) == device_id,
                           col(EnrolmentCode.used_at).is_(None))
                    .values(used_at=now))
    credential = session.get(DeviceCredential, device_id)
    if credential is not None:
        session.delete(credential)
    return credential is not None


def issue_code(session: Session, device: Device, settings: FleetSettings,
               accounts: BrokerAccounts, actor: str, address: str | None) -> tuple[str, datetime]:
    """A new code for the device; an enrolled device's old secrets are revoked first."""
    now = _now()
    enrolled = _revoke_secrets(session, device.id, now)
    if enrolled and accounts.configured:
        try:
            accounts.delete_device(device.id)
        except BrokerUnavailable:
            session.rollback()  # nothing changes: the old secrets stay until this works
            raise
    code = new_code()
    expires = now + timedelta(seconds=settings.enrolment_code_ttl_s)
    session.add(EnrolmentCode(device_id=device.id, code_hash=hash_code(code), created_by=actor,
                              expires_at=expires, created_at=now))
    session.commit()
    audit(session, actor, "device.enrolment_code", device.id, address, expires_at=expires,
          reenrolment=enrolled)
    return code, expires


# --- 2. the node enrols -----------------------------------------------------------------------


class EnrolRequest(BaseModel):
    """What a node sends: the code and the secrets it made for itself."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64, description="The one-time enrolment code")
    mqtt_password: str = Field(
        min_length=24, max_length=256, pattern=r"^[\x21-\x7e]+$",
        description="The broker password the node made (printable ASCII, at least 24 chars): "
        "handed to the broker, which keeps only its hash; the fleet keeps nothing of it",
    )
    device_secret_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 (hex) of the device API credential the node made; only the hash "
        "is ever sent",
    )


class TrustedKey(BaseModel):
    name: str = Field(description="File name of the public key in the fleet")
    pem: str = Field(description="The Ed25519 public key that signs model packages (PEM)")


class EnrolAnswer(BaseModel):
    """What the node's config needs."""

    device_id: str
    mqtt_url: str = Field(description="The broker as nodes reach it, without credentials")
    mqtt_username: str = Field(description="The node's broker user: its device id")
    mqtt_prefix: str = Field(description="The MQTT topic prefix")
    ca_pem: str | None = Field(description="CA certificate of the broker's TLS listener, if any")
    trusted_keys: list[TrustedKey] = Field(description="Keys whose model packages it accepts")
    fleet_url: str | None = Field(description="The fleet's public URL, if configured")


def node_mqtt_url(settings: FleetSettings) -> str | None:
    """AGRIFLEET_NODE_MQTT_URL, or the fleet's broker URL without its user and password."""
    if settings.node_mqtt_url is not None:
        return settings.node_mqtt_url
    if settings.mqtt_url is None:
        return None
    address = parse_mqtt_url(settings.mqtt_url, ca_file=settings.mqtt_ca_file)
    host = f"[{address.host}]" if ":" in address.host else address.host
    return f"{'mqtts' if address.tls else 'mqtt'}://{host}:{address.port}"


def enrol(session: Session, body: EnrolRequest, settings: FleetSettings,
          accounts: BrokerAccounts, address: str | None) -> EnrolAnswer:
    """Use up the code, create the device's broker account, store its credential hash."""
    plain = normalize_code(body.code)
    found = None if plain is None else session.exec(
        select(EnrolmentCode).where(EnrolmentCode.code_hash == hash_code(plain))).first()
    now = _now()
    if found is None or found.used_at is not None:
        audit(session, "anonymous", "device.enrol_refused", found.device_id if found else "",
              address, reason="invalid_code")
        raise EnrolmentError(401, INVALID_CODE)
    if found.expires_at <= now:
        audit(session, "anonymous", "device.enrol_refused", found.device_id, address,
              reason="expired_code")
        when = f"{found.expires_at:%Y-%m-%d %H:%M} UTC"
        raise EnrolmentError(410, f"this enrolment code expired at {when}; ask a technician "
                                  "for a new one")
    broker_url = node_mqtt_url(settings)
    if broker_url is None or not accounts.configured:  # checked after the code: a guesser
        raise EnrolmentError(503, "this fleet has no broker to enrol nodes into "  # learns no
                                  "(AGRIFLEET_MQTT_URL is not set)")  # more than 401
    device_id = found.device_id
    taken = session.execute(update(EnrolmentCode)
                            .where(col(EnrolmentCode.id) == found.id,
                                   col(EnrolmentCode.used_at).is_(None))
                            .values(used_at=now))
    if taken.rowcount != 1:  # type: ignore[attr-defined]  # another request took it first
        session.rollback()
        raise EnrolmentError(401, INVALID_CODE)
    old = session.get(DeviceCredential, device_id)
    if old is not None:
        session.delete(old)
        session.flush()
    device = session.get(Device, device_id)
    assert device is not None  # the foreign key
    device.revoked_at = None
    session.add(device)
    session.add(DeviceCredential(device_id=device_id, secret_sha256=body.device_secret_sha256,
                                 enrolled_at=now))
    try:
        session.flush()  # a hash another device uses breaks the unique constraint here
    except IntegrityError:
        session.rollback()  # the code stays unused: the node makes a new credential
        raise EnrolmentError(409, CREDENTIAL_TAKEN) from None
    try:
        accounts.create_device(device_id, body.mqtt_password)
    except BrokerUnavailable:
        session.rollback()  # the code stays unused: the node may try again
        raise
    session.commit()
    audit(session, "device:" + device_id, "device.enrolled", device_id, address)
    return EnrolAnswer(
        device_id=device_id, mqtt_url=broker_url, mqtt_username=device_id,
        mqtt_prefix=settings.mqtt_prefix,
        ca_pem=settings.mqtt_ca_file.read_text() if settings.mqtt_ca_file else None,
        trusted_keys=[TrustedKey(name=p.name, pem=p.read_text()) for p in settings.model_keys],
        fleet_url=settings.public_url,
    )


def check_device_secret(session: Session, device_id: str, secret: str) -> bool:
    """Whether ``secret`` is the device API credential the device enrolled with."""
    stored = session.get(DeviceCredential, device_id)
    given = hashlib.sha256(secret.encode()).hexdigest()
    return stored is not None and hmac.compare_digest(stored.secret_sha256, given)


# --- 3. revocation ----------------------------------------------------------------------------


def revoke(session: Session, device: Device, accounts: BrokerAccounts, actor: str,
           address: str | None) -> bool:
    """Refuse the device from now on; True when its broker account was deleted too (False when
    the fleet has no broker). The database is committed before the broker is asked, so a
    broker that is away still leaves the device refused by the fleet (BrokerUnavailable)."""
    now = _now()
    if device.revoked_at is None:
        device.revoked_at = now
    _revoke_secrets(session, device.id, now)
    session.add(device)
    session.commit()
    audit(session, actor, "device.revoked", device.id, address)
    if not accounts.configured:
        return False
    accounts.delete_device(device.id)
    return True


# --- rate limit of the public route -----------------------------------------------------------


class AttemptLimiter:
    """At most ``per_minute`` attempts per address in any 60 s (memory only, per process)."""

    def __init__(self, per_minute: int, window_s: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 10_000:  # forget idle addresses rather than grow forever
                self._seen = {a: q for a, q in self._seen.items()
                              if q and now - q[-1] < self.window_s}
            times = self._seen.setdefault(address, deque())
            while times and now - times[0] >= self.window_s:
                times.popleft()
            if len(times) >= self.per_minute:
                return False
            times.append(now)
            return True
