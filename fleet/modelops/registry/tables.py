"""Registry tables: published model packages and the download tokens offers carry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from agrifleet.fleet.columns import BigId, UtcDateTime, utcnow


class ModelPackageBase(SQLModel):
    name: str = Field(max_length=64, description="Model name (manifest name)")
    version: str = Field(max_length=32, description="Model version (manifest version)")
    sha256: str = Field(max_length=64, description="SHA-256 of the package archive (.tar.gz)")
    size: int = Field(sa_type=BigInteger, description="Bytes of the package archive")
    model_sha256: str = Field(
        max_length=64, description="SHA-256 of the model file: what a node reports as active"
    )
    key_id: str = Field(max_length=32, description="The key that signed the package")
    published_by: str = Field(max_length=128, description="Name of the token that published it")
    published_role: str = Field(max_length=16, description="Role of that token")
    published_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class ModelPackage(ModelPackageBase, table=True):
    __table_args__ = (UniqueConstraint("name", "version", name="uq_modelpackage_version"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    manifest: dict[str, Any] = Field(sa_type=JSON)


class ModelPackagePublic(ModelPackageBase):
    url: str = Field(description="Where technicians and offered devices download the archive")


class ModelPackageDetail(ModelPackagePublic):
    manifest: dict[str, Any] = Field(description="The signed manifest.json")
    metrics: dict[str, Any] = Field(description="The manifest's evaluation figures")


class DownloadToken(SQLModel, table=True):
    """A download token an offer carries: bound to one device and one package, expiring."""

    __table_args__ = (Index("ix_downloadtoken_device", "device_id", "package_id"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    token_hash: str = Field(max_length=64, unique=True)
    device_id: str = Field(max_length=64)
    package_id: int = Field(sa_type=BigInteger, foreign_key="modelpackage.id")
    rollout_id: int = Field(sa_type=BigInteger)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    revoked: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
