"""Signed model packages: sign a model folder, verify it, and receive an archive of one.

A package is a model folder whose manifest lists the path, size and SHA-256 of every other file,
says who signed it and until when (``signing``), and is signed with Ed25519 in ``manifest.sig``.
The fleet's registry and the node's updater both call :func:`receive_package` (unpack, verify,
check the upgrade), so they refuse exactly the same things; every refusal is a
:class:`PackageError` whose ``reason`` is one short machine-readable word.

Its parts have modules of their own: the layout and its checks (:mod:`agrifleet.package_layout`),
the version rule (:mod:`agrifleet.package_version`), archives (:mod:`agrifleet.package_archive`);
their public names are importable from here too, as callers have always imported them.
cryptography is imported by :mod:`agrifleet.signing` only, when a key is used; this module
needs only pydantic and the standard library.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agrifleet.manifest import MANIFEST_NAME, Manifest, PackageFile, SigningInfo, sha256_file
from agrifleet.package_archive import pack as pack
from agrifleet.package_archive import safe_extract as safe_extract

# Refusals are raised and caught under this module's name too (agrifleet.package.PackageError).
from agrifleet.package_errors import REASONS as REASONS
from agrifleet.package_errors import PackageError as PackageError
from agrifleet.package_layout import ANSWERS_PATH as ANSWERS_PATH
from agrifleet.package_layout import CARD_NAME as CARD_NAME
from agrifleet.package_layout import MAX_BYTES as MAX_BYTES
from agrifleet.package_layout import MAX_FILES as MAX_FILES
from agrifleet.package_layout import MAX_MANIFEST_BYTES as MAX_MANIFEST_BYTES
from agrifleet.package_layout import MAX_PATH as MAX_PATH
from agrifleet.package_layout import REQUIRED as REQUIRED
from agrifleet.package_layout import SELFTEST_DIR as SELFTEST_DIR
from agrifleet.package_layout import SIG_NAME as SIG_NAME
from agrifleet.package_layout import (
    check_contents,
    check_relpath,
    ignored,
    read_package_manifest,
    tmp_name,
    walk,
    write_atomic,
)
from agrifleet.package_version import check_upgrade as check_upgrade
from agrifleet.package_version import parse_version as parse_version

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


@dataclass(frozen=True)
class Signature:
    """What :func:`sign_package` wrote."""

    key_id: str
    signed_at: datetime
    expires_at: datetime
    files: int
    manifest_sha256: str


# --- keys (thin wrappers so callers need only this module) ---------------------------------


def generate_keypair(out_dir: Path) -> tuple[Path, Path]:
    """Write ``signing.key`` (mode 0600) and ``signing.pub`` into ``out_dir``; their paths."""
    from agrifleet import signing

    return signing.generate_keypair(out_dir)


def load_public_keys(paths: Iterable[Path]) -> dict[str, Ed25519PublicKey]:
    """Trusted public keys keyed by key id; PackageError "bad_key" for a bad file."""
    from agrifleet import signing

    return signing.load_public_keys(paths)


# --- signing and verification ---------------------------------------------------------------


def sign_package(pkg_dir: Path, key_file: Path, *, expires_days: int = 365) -> Signature:
    """Sign ``pkg_dir`` in place: list its files in manifest.json, write manifest.sig.

    The float benchmark model named by ``float_reference`` stays in the folder but outside the
    package. PackageError if the folder is not a complete, valid model folder.
    """
    from agrifleet import signing

    if not 1 <= expires_days <= 3650:
        raise PackageError("invalid_manifest", f"expires_days must be 1-3650, not {expires_days}")
    pkg_dir = Path(pkg_dir)
    private = signing.load_private_key(key_file)
    for name in (MANIFEST_NAME, SIG_NAME):  # left by a sign that was killed
        tmp_name(pkg_dir / name).unlink(missing_ok=True)
    _, manifest = read_package_manifest(pkg_dir)
    files = [PackageFile(path=rel, size=path.stat().st_size, sha256=sha256_file(path))
             for rel, path in sorted(walk(pkg_dir, ignored(manifest)).items())]
    now = datetime.now(UTC).replace(microsecond=0)
    info = SigningInfo(key_id=signing.key_id(private.public_key()), signed_at=now,
                       expires_at=now + timedelta(days=expires_days))
    signed = manifest.model_copy(update={"files": files, "signing": info})
    signed = Manifest.model_validate(signed.model_dump())  # re-validate the updated copy
    check_contents(pkg_dir, signed)
    data = (json.dumps(signed.model_dump(mode="json"), indent=2, ensure_ascii=False)
            + "\n").encode("utf-8")
    sig = signing.sign_bytes(private, data)
    # A crash between the two leaves a signature that does not match: refused, sign again.
    write_atomic(pkg_dir / MANIFEST_NAME, data)
    write_atomic(pkg_dir / SIG_NAME, (json.dumps(sig, indent=2) + "\n").encode("utf-8"))
    return Signature(key_id=info.key_id, signed_at=info.signed_at, expires_at=info.expires_at,
                     files=len(files), manifest_sha256=hashlib.sha256(data).hexdigest())


def verify_package(pkg_dir: Path, trusted: Mapping[str, Any], *,
                   now: datetime | None = None) -> Manifest:
    """The manifest of ``pkg_dir`` if it is intact and signed by a trusted key, not expired.

    Checks, in order: manifest.sig present ("unsigned"), signed by a key in ``trusted``
    ("unknown_key") over exactly these manifest bytes ("bad_signature"), manifest valid and
    complete ("invalid_manifest", "missing_file"), not expired ("expired"), every listed file
    present with its size and SHA-256 and no other file ("missing_file", "tampered").
    """
    from agrifleet import signing

    pkg_dir = Path(pkg_dir)
    sig_path = pkg_dir / SIG_NAME
    man_path = pkg_dir / MANIFEST_NAME
    if not pkg_dir.is_dir():
        raise PackageError("missing_file", f"{pkg_dir} is not a folder")
    if man_path.is_symlink() or not man_path.is_file():
        raise PackageError("missing_file", f"{pkg_dir}: no {MANIFEST_NAME} at the top of the "
                           "package (packed inside another folder?)")
    if sig_path.is_symlink() or not sig_path.is_file():
        raise PackageError("unsigned", f"{pkg_dir}: no {SIG_NAME}; the package is not signed")
    if man_path.stat().st_size > MAX_MANIFEST_BYTES:
        raise PackageError("too_large", f"{MANIFEST_NAME} is over {MAX_MANIFEST_BYTES} bytes")
    with sig_path.open("rb") as f:
        sig_bytes = f.read(signing.MAX_SIG_BYTES + 1)
    signing.check_signature(sig_bytes, man_path.read_bytes(), trusted)
    _, manifest = read_package_manifest(pkg_dir)
    if manifest.signing is None or not manifest.files:
        raise PackageError("unsigned", f"{pkg_dir}: the manifest has no files list or signer")
    when = now or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when >= manifest.signing.expires_at:
        raise PackageError("expired", f"{manifest.name} {manifest.version}: signature expired "
                           f"on {manifest.signing.expires_at:%Y-%m-%d}")
    present = walk(pkg_dir, ignored(manifest))
    for entry in manifest.files:
        check_relpath(entry.path)
        path = present.pop(entry.path, None)
        if path is None:
            raise PackageError("missing_file", f"{entry.path} is missing from the package")
        size = path.stat().st_size
        if size != entry.size:
            raise PackageError("tampered", f"{entry.path}: {size} bytes, signed as {entry.size}")
        digest = sha256_file(path)
        if digest != entry.sha256:
            raise PackageError("tampered", f"{entry.path}: sha256 {digest[:12]}… differs from "
                               f"the signed {entry.sha256[:12]}…")
    if present:
        raise PackageError("tampered", f"files not covered by the signature: "
                           f"{', '.join(sorted(present)[:3])}")
    check_contents(pkg_dir, manifest)
    return manifest


def receive_package(archive: Path, dest: Path, trusted: Mapping[str, Any], *,
                    current: Manifest | None = None, rollback: bool = False,
                    now: datetime | None = None, max_bytes: int = MAX_BYTES,
                    max_files: int = MAX_FILES) -> Manifest:
    """Unpack ``archive`` into the new folder ``dest``, verify it and check it may replace
    ``current``: the manifest. On any refusal, PackageError and ``dest`` is removed.

    The one sequence the fleet (on upload) and the node (on download) both run, so the two
    refuse the same packages. It does not run the self-test (see
    :func:`agrifleet.inference.selftest.run_selftest`), which needs the TFLite runtime.
    """
    safe_extract(archive, dest, max_bytes=max_bytes, max_files=max_files)
    try:
        manifest = verify_package(dest, trusted, now=now)
        if manifest.float_reference and (dest / manifest.float_reference).exists():
            raise PackageError("tampered", f"{manifest.float_reference} is never packed; "
                               "this archive was altered")
        check_upgrade(manifest, current, rollback=rollback)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return manifest
