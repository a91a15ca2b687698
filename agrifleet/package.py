"""Signed model packages: sign a model folder, verify it, pack it, unpack it safely.

A package is a model folder (``manifest.json``, ``model.tflite``, ``labels.txt``,
``MODEL_CARD.md``, reports, ``selftest/``) whose manifest lists the path, size and SHA-256 of
every other file, says who signed it and until when (``signing``), and is signed with Ed25519
in ``manifest.sig``. The fleet's registry and the node's updater both call :func:`safe_extract`,
:func:`verify_package` and :func:`check_upgrade`, so they refuse exactly the same things; every
refusal is a :class:`PackageError` whose ``reason`` is one short machine-readable word.

cryptography is imported by :mod:`agrifleet.signing` only, when a key is used; this module
needs only pydantic and the standard library.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from agrifleet.manifest import (
    LABELS_NAME,
    MANIFEST_NAME,
    Manifest,
    PackageFile,
    SigningInfo,
    sha256_file,
)

# Refusals are raised and caught under this module's name too (agrifleet.package.PackageError).
from agrifleet.package_errors import REASONS as REASONS
from agrifleet.package_errors import PackageError as PackageError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SIG_NAME = "manifest.sig"
SELFTEST_DIR = "selftest"
ANSWERS_PATH = "selftest/answers.json"
CARD_NAME = "MODEL_CARD.md"
#: Beyond the model file itself, every package must have these.
REQUIRED = (LABELS_NAME, CARD_NAME, ANSWERS_PATH)
#: Limits for an archive and an unpacked package (the shipped one: about 1.8 MB, 20 files).
MAX_BYTES = 64 * 1024 * 1024
MAX_FILES = 256
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_PATH = 255


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


# --- the files of a package -----------------------------------------------------------------


def _check_relpath(name: str) -> str:
    """``name`` if it is a safe relative POSIX path inside a package, else PackageError."""
    path = PurePosixPath(name)
    if (not name or len(name) > MAX_PATH or "\\" in name or name.startswith("/")
            or path.is_absolute() or any(p in ("", ".", "..") for p in name.split("/"))
            or any(ord(c) < 32 or ord(c) == 127 for c in name)):
        raise PackageError("unsafe_archive", f"unsafe path {name[:80]!r} in the package")
    return name


def _ignored(manifest: Manifest) -> set[str]:
    """Files in the folder that are not part of the package: its signature, the float model."""
    skip = {MANIFEST_NAME, SIG_NAME}
    if manifest.float_reference:
        skip.add(manifest.float_reference)
    return skip


def _walk(pkg_dir: Path, skip: set[str]) -> dict[str, Path]:
    """Every regular file below ``pkg_dir`` but ``skip``, by relative path; refuses links."""
    found: dict[str, Path] = {}
    stack = [pkg_dir]
    while stack:
        folder = stack.pop()
        for entry in sorted(folder.iterdir()):
            rel = entry.relative_to(pkg_dir).as_posix()
            mode = entry.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise PackageError("unsafe_archive", f"{rel} is a symbolic link")
            if stat.S_ISDIR(mode):
                stack.append(entry)
            elif not stat.S_ISREG(mode):
                raise PackageError("unsafe_archive", f"{rel} is not a regular file")
            elif rel not in skip:
                found[_check_relpath(rel)] = entry
    if len(found) > MAX_FILES:
        raise PackageError("too_large", f"{len(found)} files (at most {MAX_FILES})")
    return found


def _read_manifest(pkg_dir: Path) -> tuple[bytes, Manifest]:
    path = pkg_dir / MANIFEST_NAME
    try:
        if path.is_symlink() or not path.is_file():
            raise FileNotFoundError(path)
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise PackageError("too_large", f"{MANIFEST_NAME} is over {MAX_MANIFEST_BYTES} bytes")
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise PackageError("missing_file", f"{pkg_dir}: no {MANIFEST_NAME}") from exc
    try:
        return data, Manifest.model_validate(json.loads(data))
    except (ValueError, ValidationError) as exc:
        first = str(exc).splitlines()[0:3]
        raise PackageError("invalid_manifest",
                           f"{pkg_dir}: invalid {MANIFEST_NAME}: {' '.join(first)}") from exc


def _check_contents(pkg_dir: Path, manifest: Manifest) -> None:
    """The manifest's own claims agree with its files list, and the required files are there."""
    listed = {f.path: f for f in manifest.files}
    if len(listed) != len(manifest.files):
        raise PackageError("invalid_manifest", "the files list names a file twice")
    model = listed.get(manifest.file)
    if model is None:
        raise PackageError("missing_file", f"the model file {manifest.file} is not in the package")
    if (model.sha256, model.size) != (manifest.sha256, manifest.size_bytes):
        raise PackageError("invalid_manifest", f"{manifest.file}: sha256/size in the files list "
                           "differ from the manifest's own")
    for name in REQUIRED:
        if name not in listed:
            raise PackageError("missing_file", f"the package has no {name}")
    try:
        labels = (pkg_dir / LABELS_NAME).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise PackageError("invalid_manifest", f"{LABELS_NAME} is not UTF-8 text") from exc
    if labels != manifest.labels:
        raise PackageError("invalid_manifest", f"{LABELS_NAME} differs from the manifest's labels")
    try:
        recorded = json.loads((pkg_dir / ANSWERS_PATH).read_bytes()).get("model_sha256")
    except (ValueError, AttributeError) as exc:
        raise PackageError("selftest_failed", f"{ANSWERS_PATH} is not valid JSON") from exc
    if recorded != manifest.sha256:
        raise PackageError("selftest_failed", f"{ANSWERS_PATH} was recorded for another model "
                           "file; run agrifleet model selftest again")


def _write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so a crash leaves the old file or the new, never half."""
    tmp = _tmp_name(path)
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


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
        _tmp_name(pkg_dir / name).unlink(missing_ok=True)
    _, manifest = _read_manifest(pkg_dir)
    files = [PackageFile(path=rel, size=path.stat().st_size, sha256=sha256_file(path))
             for rel, path in sorted(_walk(pkg_dir, _ignored(manifest)).items())]
    now = datetime.now(UTC).replace(microsecond=0)
    info = SigningInfo(key_id=signing.key_id(private.public_key()), signed_at=now,
                       expires_at=now + timedelta(days=expires_days))
    signed = manifest.model_copy(update={"files": files, "signing": info})
    signed = Manifest.model_validate(signed.model_dump())  # re-validate the updated copy
    _check_contents(pkg_dir, signed)
    data = (json.dumps(signed.model_dump(mode="json"), indent=2, ensure_ascii=False)
            + "\n").encode("utf-8")
    sig = signing.sign_bytes(private, data)
    # A crash between the two leaves a signature that does not match: refused, sign again.
    _write_atomic(pkg_dir / MANIFEST_NAME, data)
    _write_atomic(pkg_dir / SIG_NAME, (json.dumps(sig, indent=2) + "\n").encode("utf-8"))
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
    _, manifest = _read_manifest(pkg_dir)
    if manifest.signing is None or not manifest.files:
        raise PackageError("unsigned", f"{pkg_dir}: the manifest has no files list or signer")
    when = now or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when >= manifest.signing.expires_at:
        raise PackageError("expired", f"{manifest.name} {manifest.version}: signature expired "
                           f"on {manifest.signing.expires_at:%Y-%m-%d}")
    present = _walk(pkg_dir, _ignored(manifest))
    for entry in manifest.files:
        _check_relpath(entry.path)
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
    _check_contents(pkg_dir, manifest)
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


def parse_version(version: str) -> tuple[int, int, int]:
    """``"1.10.2"`` → ``(1, 10, 2)``; PackageError "invalid_manifest" if it is not that form."""
    parts = version.split(".")
    if len(parts) != 3 or not all(p.isdigit() and p.isascii() for p in parts):
        raise PackageError("invalid_manifest", f"version {version!r} is not MAJOR.MINOR.PATCH")
    major, minor, patch = (int(p) for p in parts)
    return major, minor, patch


def check_upgrade(new: Manifest, current: Manifest | None, *, rollback: bool = False) -> None:
    """Refuse ``new`` unless it is the same model at a strictly higher version.

    ``rollback=True`` (an explicit, signed decision by the fleet) allows a lower version; the
    same version is never a change ("same_version"), another model name never ("wrong_model").
    """
    if current is None:
        return
    if new.name != current.name:
        raise PackageError("wrong_model", f"package is model {new.name!r}; this node runs "
                           f"{current.name!r}")
    old, candidate = parse_version(current.version), parse_version(new.version)
    if candidate == old:
        raise PackageError("same_version", f"{new.name} {new.version} is already installed")
    if candidate < old and not rollback:
        raise PackageError("downgrade", f"{new.name} {new.version} is older than the running "
                           f"{current.version}; a rollback must be requested explicitly")


# --- archives -------------------------------------------------------------------------------


def pack(pkg_dir: Path, out: Path) -> str:
    """Write the signed package as a deterministic .tar.gz at ``out``; its SHA-256.

    Only manifest.json, manifest.sig and the files the manifest lists go in (never the float
    benchmark model), in sorted order, with zeroed times and owners: the same package always
    gives the same bytes.
    """
    pkg_dir = Path(pkg_dir)
    _, manifest = _read_manifest(pkg_dir)
    if not manifest.files or not (pkg_dir / SIG_NAME).is_file():
        raise PackageError("unsigned", f"{pkg_dir}: sign the package before packing it")
    names = sorted({MANIFEST_NAME, SIG_NAME, *(f.path for f in manifest.files)})
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in names:
            path = pkg_dir / _check_relpath(name)
            if path.is_symlink() or not path.is_file():
                raise PackageError("missing_file", f"{name} is missing from {pkg_dir}")
            info = tarfile.TarInfo(name)
            info.size = path.stat().st_size
            info.mode = 0o644
            info.mtime = 0
            with path.open("rb") as f:
                tar.addfile(info, f)
    data = raw.getvalue()
    _write_atomic(Path(out), data)
    return hashlib.sha256(data).hexdigest()


def safe_extract(archive: Path, dest: Path, *, max_bytes: int = MAX_BYTES,
                 max_files: int = MAX_FILES) -> Path:
    """Unpack a package archive into the new folder ``dest``; ``dest``.

    Only regular files (and folders) with safe relative paths are accepted: absolute paths,
    ``..``, links, devices, fifos, duplicate names, more than ``max_files`` files or
    ``max_bytes`` bytes, and corrupt gzip or tar data are refused with PackageError, and
    nothing is left behind. ``dest`` must not exist yet.
    """
    dest, archive = Path(dest), Path(archive)
    if not archive.is_file():
        raise PackageError("corrupt_archive", f"{archive}: no such file")
    if dest.exists() or dest.is_symlink():
        raise PackageError("unsafe_archive", f"{dest} already exists; extract into a new folder")
    dest.mkdir(parents=True)
    try:
        _extract(archive, dest, max_bytes, max_files)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return dest


def _check_unpacked_size(archive: Path, max_bytes: int, max_files: int) -> None:
    """Refuse a gzip stream that inflates beyond the limits plus tar's own headers.

    tarfile reads some headers (PAX, GNU long names) whole into memory, so a small archive
    could otherwise make a node allocate gigabytes before any member is seen.
    """
    limit = max_bytes + max_files * 3 * tarfile.BLOCKSIZE + tarfile.RECORDSIZE
    total = 0
    try:
        with gzip.open(archive, "rb") as stream:
            while chunk := stream.read(1 << 20):
                total += len(chunk)
                if total > limit:
                    raise PackageError("too_large", f"{archive.name} inflates to more than "
                                       f"{limit} bytes")
    except (OSError, EOFError, zlib.error) as exc:
        raise PackageError("corrupt_archive", f"{archive.name}: not a readable .tar.gz "
                           f"({exc})") from exc


def _extract(archive: Path, dest: Path, max_bytes: int, max_files: int) -> None:
    _check_unpacked_size(archive, max_bytes, max_files)
    seen: set[str] = set()
    total = files = members = 0
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar:
                members += 1
                if members > max_files:
                    raise PackageError("too_large", f"more than {max_files} files")
                name = member.name
                while name.startswith("./"):  # what `tar -C DIR -czf x.tar.gz .` writes
                    name = name[2:]
                if member.isdir():
                    name = name.removesuffix("/")
                    if name in ("", "."):
                        continue
                name = _check_relpath(name)
                if name in seen:
                    raise PackageError("unsafe_archive", f"{name} appears twice in the archive")
                seen.add(name)
                if member.issym() or member.islnk():
                    raise PackageError("unsafe_archive", f"{name} is a link")
                if member.isdir():
                    (dest / name).mkdir(parents=True, exist_ok=True)
                    continue
                if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE) or member.sparse:
                    raise PackageError("unsafe_archive", f"{name} is not a regular file")
                files += 1
                total += member.size
                if total > max_bytes:
                    raise PackageError("too_large", f"more than {max_bytes} bytes unpacked")
                _write_member(tar, member, dest / name)
    except PackageError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise PackageError("corrupt_archive", f"{archive.name}: not a readable .tar.gz "
                           f"({exc})") from exc
    except (NotADirectoryError, FileExistsError, IsADirectoryError) as exc:
        raise PackageError("unsafe_archive", f"conflicting names in the archive ({exc})") from exc
    if not files:
        raise PackageError("corrupt_archive", f"{archive.name}: the archive is empty")


def _write_member(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    source = tar.extractfile(member)
    if source is None:
        raise PackageError("unsafe_archive", f"{member.name} has no data")
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with source, target.open("xb") as out:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            written += len(chunk)
            if written > member.size:
                raise PackageError("corrupt_archive", f"{member.name}: more data than declared")
            out.write(chunk)
    if written != member.size:
        raise PackageError("corrupt_archive", f"{member.name}: truncated")
