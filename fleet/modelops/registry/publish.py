"""Accept a package into the registry: check it, refuse an equal or older version, store it."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from agrifleet.fleet.modelops.registry.checks import check_package
from agrifleet.fleet.modelops.registry.storage import ARCHIVE_NAME, UNPACKED_NAME, PackageStore
from agrifleet.fleet.modelops.registry.tables import ModelPackage
from agrifleet.fleet.settings import FleetSettings
from agrifleet.manifest import Manifest
from agrifleet.package import PackageError, check_upgrade, load_public_keys, parse_version

log = logging.getLogger(__name__)

#: At most this many bytes per uploaded archive, and unpacked, and this many files.
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
MAX_FILES = 256

#: One publication at a time, so two uploads cannot both be "the newest version".
_publish_lock = threading.Lock()


class VersionConflict(PackageError):
    """The registry already has this or a newer version of the model (answered 409)."""


class AlreadyPublished(Exception):
    """This very archive (same SHA-256) is registered: a client's retry or a second publish at
    the same time gets the first one's package (answered 200)."""

    def __init__(self, package: ModelPackage) -> None:
        super().__init__(f"{package.name} {package.version} is already published")
        self.package = package


def identical(session: Session, sha256: str) -> ModelPackage | None:
    """The package whose archive has this SHA-256, if one is registered."""
    return session.exec(select(ModelPackage).where(ModelPackage.sha256 == sha256)).first()


def latest(session: Session, name: str) -> ModelPackage | None:
    """The highest registered version of a model."""
    rows = session.exec(select(ModelPackage).where(ModelPackage.name == name)).all()
    return max(rows, key=lambda p: parse_version(p.version), default=None)


def find(session: Session, name: str, version: str) -> ModelPackage | None:
    return session.exec(
        select(ModelPackage).where(ModelPackage.name == name, ModelPackage.version == version)
    ).first()


def publish(settings: FleetSettings, engine: Engine, staging: Path, sha256: str, size: int,
            published_by: str, published_role: str) -> ModelPackage:
    """Check the archive in ``staging`` and register it; PackageError with the reason if not.

    The staging folder (this upload's own) is moved into the store on success and removed
    on refusal. AlreadyPublished if this very archive is registered (checked before and after
    the checks, so two identical uploads at once both get the one package).
    """
    store = PackageStore(settings.data_dir)
    try:
        with Session(engine) as session:
            found = identical(session, sha256)
        if found is not None:
            raise AlreadyPublished(found)
        trusted = load_public_keys(settings.model_keys)
        manifest = check_package(staging / ARCHIVE_NAME, staging / UNPACKED_NAME, trusted,
                                 max_bytes=MAX_ARCHIVE_BYTES, max_files=MAX_FILES)
        with _publish_lock, Session(engine) as session:
            newest = latest(session, manifest.name)
            found = identical(session, sha256)  # published while this one was being checked
            if found is not None:
                raise AlreadyPublished(found)
            if newest is not None:
                try:
                    check_upgrade(manifest, Manifest.model_validate(newest.manifest))
                except PackageError as exc:
                    raise VersionConflict(exc.reason, f"{exc}; the registry has "
                                          f"{newest.version} and versions only go up") from None
            store.commit_staging(staging, manifest.name, manifest.version)
            package = ModelPackage(
                name=manifest.name,
                version=manifest.version,
                sha256=sha256,
                size=size,
                model_sha256=manifest.sha256,
                key_id=manifest.signing.key_id if manifest.signing else "",
                published_by=published_by[:128],
                published_role=published_role,
                manifest=manifest.model_dump(mode="json"),
            )
            session.add(package)
            try:
                session.commit()
            except Exception:
                store.remove(manifest.name, manifest.version)
                raise
            session.refresh(package)
    except BaseException:
        store.discard(staging)
        raise
    log.info("published %s %s (%d bytes, by %s)", package.name, package.version, size,
             package.published_by)
    return package
