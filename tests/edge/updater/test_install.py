"""The updater installs a signed, newer package end to end and refuses every bad one, staying on
its model: download → verify → self-test → shadow → switch in trial → confirmed active."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agrifleet.edge.updater.state import StateFile
from agrifleet.manifest import read_manifest
from tests.base_model import BASE_VERSION
from tests.edge.updater.conftest import Keys, MakePackage, Package, offer_for
from tests.edge.updater.package_server import PackageServer
from tests.edge.updater.rig import Rig


@pytest.fixture
def rig(tmp_path: Path, keys: Keys, base_model: Path) -> Iterator[Rig]:
    rig = Rig(tmp_path / "node", [keys.pub], base_model)
    yield rig
    rig.stop()


def test_a_signed_newer_package_is_installed_and_confirmed_by_the_first_classification(
        rig: Rig, make_package: MakePackage, server: PackageServer, base_model: Path):
    package = make_package("1.2.0")
    updater = rig.start()
    old = updater.active()
    rig.offer(offer_for(server, package, shadow_images=2))

    final = rig.wait_final(feed_photos=True)

    assert final.state == "active", final.reason
    states = rig.states()
    assert states[0] == "downloading" and states[-1] == "active"
    assert states.index("verifying") < states.index("selftest") < states.index("shadow")
    shadow = [u for u in rig.updates if u.state == "shadow" and u.gate and u.gate.images == 2]
    assert shadow and shadow[0].gate is not None and shadow[0].gate.agreement == 1.0
    assert final.active is not None and final.active.version == "1.2.0"
    assert updater.previous() == old
    state = StateFile(rig.data_dir / "updates").load()
    assert state.current is not None and state.current.version == "1.2.0"
    assert state.trial is None
    assert rig.slot.view().model_dir == rig.data_dir / "models/leaf-disease/1.2.0"
    assert read_manifest(state.current.path).version == "1.2.0"
    assert rig.worker is not None and rig.worker.classifier.manifest.version == "1.2.0"
    assert not list((rig.data_dir / "updates").glob("*.part")), "the archive is removed"
    # the same retained offer again (a reconnect) changes nothing
    before = len(rig.updates)
    rig.offer(offer_for(server, package, shadow_images=2))
    rig.photo()
    assert len(rig.updates) == before


def _archive_with(package: Package, dest: Path, extra: Callable[[tarfile.TarFile], None]) -> Path:
    """The package's archive with one more (evil) member."""
    out = dest / "evil.tar.gz"
    with tarfile.open(package.archive) as src, tarfile.open(out, "w:gz") as tar:
        for member in src:
            tar.addfile(member, src.extractfile(member))
        extra(tar)
    return out


def _add_file(name: str) -> Callable[[tarfile.TarFile], None]:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    return add


def _add_link(tar: tarfile.TarFile) -> None:
    info = tarfile.TarInfo("selftest/passwd")
    info.type = tarfile.SYMTYPE
    info.linkname = "/etc/passwd"
    tar.addfile(info)


def _flip_byte(name: str) -> Callable[[Path], None]:
    def flip(pkg: Path) -> None:
        path = pkg / name
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    return flip


REFUSALS: dict[str, tuple[str, dict[str, Any]]] = {
    "corrupt archive": ("corrupt_archive", {}),
    "changed byte in the model": ("tampered", {"after": _flip_byte("model.tflite")}),
    "changed byte in the model card": ("tampered", {"after": _flip_byte("MODEL_CARD.md")}),
    "changed byte in a self-test image": (
        "tampered", {"after": _flip_byte("selftest/00-apple-apple-scab.png")}),
    "wrong sha256": ("does not match the offer", {}),
    "unsigned": ("unsigned", {"sign": False}),
    "other key": ("unknown_key", {"key": "other"}),
    "expired": ("expired", {}),
    "other model name": ("wrong_model", {"name": "other-model"}),
    "older version": ("downgrade", {"version": "1.0.0"}),
    "same version": ("same_version", {"version": BASE_VERSION}),
    "dot-dot path": ("unsafe_archive", {"evil": _add_file("../escape.txt")}),
    "absolute path": ("unsafe_archive", {"evil": _add_file("/tmp/escape.txt")}),
    "link": ("unsafe_archive", {"evil": _add_link}),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_bad_package_is_refused_and_the_node_stays_on_its_model(
        case: str, rig: Rig, make_package: MakePackage, server: PackageServer, base_model: Path,
        other_keys: Keys, tmp_path: Path):
    expected, how = REFUSALS[case]
    how = dict(how)
    version = how.pop("version", "1.2.0")
    evil = how.pop("evil", None)
    if how.get("key") == "other":
        how["key"] = other_keys.key
    package = make_package(version, **how)
    if evil is not None:
        package.archive = _archive_with(package, tmp_path, evil)
    if case == "corrupt archive":
        data = package.archive.read_bytes()
        package.archive.write_bytes(data[: len(data) // 2])  # a truncated .tar.gz
    if evil is not None or case == "corrupt archive":
        import hashlib

        package.sha256 = hashlib.sha256(package.archive.read_bytes()).hexdigest()
        package.size = package.archive.stat().st_size
    fields: dict[str, Any] = {}
    if case == "wrong sha256":
        fields["sha256"] = "0" * 64
    now = None
    if case == "expired":
        later = datetime.now(UTC) + timedelta(days=60)
        now = lambda: later  # noqa: E731
        fields["expires"] = later + timedelta(hours=1)
    updater = rig.start(now)
    old = updater.active()
    rig.offer(offer_for(server, package, **fields))

    final = rig.wait_final()

    assert final.state == "failed"
    assert final.reason is not None and expected in final.reason
    assert final.active == old
    assert updater.active() == old
    assert rig.slot.view().model_dir is None, "cameras stay on their configured model"
    assert rig.models_on_disk() == [], "nothing of the refused package is kept"
    assert not (tmp_path / "escape.txt").exists() and not Path("/tmp/escape.txt").exists()
    assert not list((rig.data_dir / "updates").glob("staging-*"))
    rig.photo()  # and the camera still works with the old model
    assert rig.worker is not None and rig.worker.classifier.manifest.version == BASE_VERSION


def test_a_package_whose_selftest_fails_is_refused(
        rig: Rig, make_package: MakePackage, server: PackageServer):
    def other_answers(pkg: Path) -> None:
        path = pkg / "selftest/answers.json"
        data = json.loads(path.read_text())
        first = next(iter(data["images"].values()))
        first["label"] = "definitely-not-a-label" if first["label"] != "x" else "y"
        path.write_text(json.dumps(data))

    package = make_package("1.2.0", edit=other_answers)
    rig.start()
    rig.offer(offer_for(server, package))
    final = rig.wait_final()
    assert final.state == "failed"
    assert final.reason is not None and final.reason.startswith("selftest_failed")
    assert rig.models_on_disk() == []
    assert rig.slot.view().model_dir is None


def test_a_rollback_offer_of_the_model_the_node_runs_is_active_at_once_without_a_download(
        rig: Rig, make_package: MakePackage, server: PackageServer):
    updater = rig.boot()
    updater.handle(offer_for(server, make_package(BASE_VERSION), rollback=True))
    assert rig.states() == ["active"]
    assert server.requests == []


def test_an_offer_too_large_for_a_package_or_the_disk_is_refused_before_any_download(
        rig: Rig, make_package: MakePackage, server: PackageServer):
    updater = rig.boot()
    package = make_package("1.2.0")
    updater.handle(offer_for(server, package, size=65 * 1024 * 1024))
    updater.handle(offer_for(server, package, rollout_id=2, size=1 << 50))
    reasons = [u.reason or "" for u in rig.updates]
    assert [u.state for u in rig.updates] == ["failed", "failed"]
    assert reasons[0].startswith("too_large") and reasons[1].startswith(("too_large", "disk"))
    assert server.requests == []


def test_an_explicit_rollback_offer_installs_an_older_version(
        rig: Rig, make_package: MakePackage, server: PackageServer):
    updater = rig.boot()
    updater.handle(offer_for(server, make_package("1.2.0"), rollout_id=1))
    rig.photo()  # confirms 1.2.0
    older = make_package("1.1.5")
    updater.handle(offer_for(server, older, rollout_id=2))  # not a rollback: a downgrade
    assert rig.updates[-1].state == "failed" and "downgrade" in (rig.updates[-1].reason or "")
    updater.handle(offer_for(server, older, rollout_id=3, rollback=True))
    rig.photo()
    assert rig.updates[-1].state == "active" and rig.updates[-1].version == "1.1.5"
    assert updater.active() is not None and updater.active().version == "1.1.5"
    assert rig.models_on_disk() == ["leaf-disease/1.1.5", "leaf-disease/1.2.0"]


def test_a_malformed_offer_is_ignored(rig: Rig):
    updater = rig.start()
    updater.on_offer(b"{not json")
    updater.on_offer(b'{"v": 1, "rollout_id": 0}')
    assert rig.updates == []
    assert updater.state.job is None
