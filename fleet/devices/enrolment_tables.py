"""Enrolment tables: one-time codes (hashed, expiring) and a device's credential hash.

Neither holds a secret: a code is kept as its SHA-256 (it has 100 random bits, so no slow hash
is needed), the node's device API credential as its SHA-256, and its broker password is handed
to the broker's dynamic security plugin (which keeps only its PBKDF2 hash) and never stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from fleet.columns import BigId, UtcDateTime, utcnow


class EnrolmentCode(SQLModel, table=True):
    """A one-time code a technician gave out for one device."""

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    device_id: str = Field(max_length=64, foreign_key="device.id", index=True)
    code_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    created_by: str = Field(default="", max_length=128)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    #: Set when a node used it, or when a newer code or a revocation made it void.
    used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class DeviceCredential(SQLModel, table=True):
    """The hash of the device API credential a node made for itself when it enrolled."""

    device_id: str = Field(primary_key=True, max_length=64, foreign_key="device.id")
    secret_sha256: str = Field(max_length=64, unique=True)
    enrolled_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
