"""The layout of a model package: its file names, limits, and the checks of a package folder.

A package is a model folder (``manifest.json``, ``model.tflite``, ``labels.txt``,
``MODEL_CARD.md``, reports, ``selftest/``) whose manifest lists the path, size and SHA-256 of
every other file; ``manifest.sig`` signs the manifest. These checks are shared by signing,
verification (:mod:`agrifleet.package`) and archives (:mod:`agrifleet.package_archive`).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from agrifleet.manifest import LABELS_NAME, MANIFEST_NAME, Manifest
from agrifleet.package_errors import PackageError

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


def check_relpath(name: str) -> str:
    """``name`` if it is a safe relative POSIX path inside a package, else PackageError."""
    path = PurePosixPath(name)
    if (not name or len(name) > MAX_PATH or "\\" in name or name.startswith("/")
            or path.is_absolute() or any(p in ("", ".", "..") for p in name.split("/"))
            or any(ord(c) < 32 or ord(c) == 127 for c in name)):
        raise PackageError("unsafe_archive", f"unsafe path {name[:80]!r} in the package")
    return name


def ignored(manifest: Manifest) -> set[str]:
    """Files in the folder that are not part of the package: its signature, the float model."""
    skip = {MANIFEST_NAME, SIG_NAME}
    if manifest.float_reference:
        skip.add(manifest.float_reference)
    return skip


def walk(pkg_dir: Path, skip: set[str]) -> dict[str, Path]:
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
                found[check_relpath(rel)] = entry
    if len(found) > MAX_FILES:
        raise PackageError("too_large", f"{len(found)} files (at most {MAX_FILES})")
    return found


def read_package_manifest(pkg_dir: Path) -> tuple[bytes, Manifest]:
    """The bytes and the parsed manifest of ``pkg_dir``; PackageError if absent or invalid."""
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


def check_contents(pkg_dir: Path, manifest: Manifest) -> None:
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


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so a crash leaves the old file or the new, never half."""
    tmp = tmp_name(path)
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def tmp_name(path: Path) -> Path:
    """Where :func:`write_atomic` writes ``path`` first (a killed write leaves it behind)."""
    return path.with_name(f".{path.name}.tmp")
