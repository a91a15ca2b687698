"""Package archives: a deterministic .tar.gz of a signed package, and its safe extraction.

:func:`pack` writes only the signed files, sorted, with zeroed times and owners.
:func:`safe_extract` is what the fleet (on upload) and the node (on download) unpack with: only
regular files with safe relative paths, within :data:`~agrifleet.package_layout.MAX_BYTES` and
:data:`~agrifleet.package_layout.MAX_FILES`, a gzip bomb refused before tarfile reads a header.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import tarfile
import zlib
from pathlib import Path

from agrifleet.manifest import MANIFEST_NAME
from agrifleet.package_errors import PackageError
from agrifleet.package_layout import (
    MAX_BYTES,
    MAX_FILES,
    SIG_NAME,
    check_relpath,
    read_package_manifest,
    write_atomic,
)


def pack(pkg_dir: Path, out: Path) -> str:
    """Write the signed package as a deterministic .tar.gz at ``out``; its SHA-256.

    Only manifest.json, manifest.sig and the files the manifest lists go in (never the float
    benchmark model), in sorted order, with zeroed times and owners: the same package always
    gives the same bytes.
    """
    pkg_dir = Path(pkg_dir)
    _, manifest = read_package_manifest(pkg_dir)
    if not manifest.files or not (pkg_dir / SIG_NAME).is_file():
        raise PackageError("unsigned", f"{pkg_dir}: sign the package before packing it")
    names = sorted({MANIFEST_NAME, SIG_NAME, *(f.path for f in manifest.files)})
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in names:
            path = pkg_dir / check_relpath(name)
            if path.is_symlink() or not path.is_file():
                raise PackageError("missing_file", f"{name} is missing from {pkg_dir}")
            info = tarfile.TarInfo(name)
            info.size = path.stat().st_size
            info.mode = 0o644
            info.mtime = 0
            with path.open("rb") as f:
                tar.addfile(info, f)
    data = raw.getvalue()
    write_atomic(Path(out), data)
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
                name = check_relpath(name)
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
