"""Fixtures for the updater's tests: signing keys, signed packages of the base model (1.1.0, what
the node runs before an update), an HTTP server serving their archives, and an updater over a
real data dir."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agrifleet.contract import ModelOffer
from agrifleet.manifest import LABELS_NAME, MANIFEST_NAME
from agrifleet.package import generate_keypair, pack, sign_package
from tests.base_model import BASE_MODEL_DIR
from tests.edge.updater.package_server import TOKEN, PackageServer, package_server

#: Files of a model folder that are not part of a package.
NOT_PACKAGED = {"model_float.tflite", "manifest.sig"}


@dataclass
class Keys:
    key: Path
    pub: Path


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    """The signing key pair the node trusts."""
    return Keys(*generate_keypair(tmp_path / "keys"))


@pytest.fixture
def other_keys(tmp_path: Path) -> Keys:
    """A key pair the node does not trust."""
    return Keys(*generate_keypair(tmp_path / "other-keys"))


@pytest.fixture
def base_model() -> Path:
    """The model folder the node runs before an update: the base model, not the shipped default,
    so that the packages offered (1.2.0, ...) are upgrades."""
    path = BASE_MODEL_DIR
    if not (path / "manifest.json").is_file():
        pytest.skip(f"no base model at {path}")
    return path


def copy_model(src: Path, dest: Path) -> Path:
    """A copy of a model folder without the float model and the signature."""
    shutil.copytree(src, dest, ignore=lambda _d, names: [n for n in names if n in NOT_PACKAGED])
    return dest


def edit_manifest(pkg: Path, **changes: Any) -> None:
    path = pkg / MANIFEST_NAME
    data = json.loads(path.read_text())
    data.update(changes)
    data.pop("files", None)
    data.pop("signing", None)
    data["float_reference"] = None
    path.write_text(json.dumps(data, indent=2))
    if "labels" in changes:
        (pkg / LABELS_NAME).write_text("\n".join(changes["labels"]) + "\n")


def permute_labels(pkg: Path) -> None:
    """Rotate the labels: the model loads and runs but answers with other names (a worse model)."""
    data = json.loads((pkg / MANIFEST_NAME).read_text())
    labels = data["labels"]
    rotated = labels[1:] + labels[:1]
    thresholds = {rotated[i]: data["thresholds"][lb] for i, lb in enumerate(labels)}
    edit_manifest(pkg, labels=rotated, thresholds=thresholds,
                  healthy_labels=[lb for lb in rotated if lb.endswith("healthy")])
    from agrifleet.inference.selftest import record_answers

    record_answers(pkg)


@dataclass
class Package:
    dir: Path
    archive: Path
    sha256: str
    size: int
    version: str
    name: str = "leaf-disease"


MakePackage = Callable[..., Package]


@pytest.fixture
def make_package(tmp_path: Path, base_model: Path, keys: Keys) -> MakePackage:
    """Build a signed package of the base model at ``version``; ``edit(dir)`` runs before
    signing, ``after(dir)`` after signing (to tamper with it), and ``key`` signs instead."""
    counter = iter(range(1000))

    def make(version: str = "1.2.0", *, edit: Callable[[Path], None] | None = None,
             after: Callable[[Path], None] | None = None, key: Path | None = None,
             sign: bool = True, expires_days: int = 30, **manifest: Any) -> Package:
        n = next(counter)
        pkg = copy_model(base_model, tmp_path / f"pkg-{n}" / version)
        edit_manifest(pkg, version=version, **manifest)
        if edit is not None:
            edit(pkg)
        if sign:
            sign_package(pkg, key or keys.key, expires_days=expires_days)
        if after is not None:
            after(pkg)
        archive = tmp_path / f"pkg-{n}.tar.gz"
        if sign:
            digest = pack(pkg, archive)
        else:
            import hashlib
            import tarfile

            with tarfile.open(archive, "w:gz") as tar:
                for path in sorted(pkg.rglob("*")):
                    tar.add(path, path.relative_to(pkg).as_posix(), recursive=False)
            digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        return Package(pkg, archive, digest, archive.stat().st_size, version,
                       str(manifest.get("name", "leaf-disease")))

    return make


@pytest.fixture
def server() -> Iterator[PackageServer]:
    with package_server() as srv:
        yield srv


def offer_for(server: PackageServer, package: Package, *, rollout_id: int = 1,
              **fields: Any) -> ModelOffer:
    """Serve ``package`` and return an offer of it (fields override the offer's)."""
    path = f"/api/v1/models/{package.name}/{package.version}/package"
    url = server.add(path, package.archive.read_bytes())
    data: dict[str, Any] = {
        "rollout_id": rollout_id, "name": package.name, "version": package.version,
        "sha256": package.sha256, "size": package.size, "url": url, "token": TOKEN,
        "expires": datetime.now(UTC) + timedelta(hours=1),
        "shadow_images": 0,
    }
    data.update(fields)
    return ModelOffer.model_validate(data)
