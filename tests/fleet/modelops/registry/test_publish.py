"""Publishing specifies: the fleet accepts a signed, intact, working package of a newer version
and refuses every other with a 422 (409 for an equal or older version) naming the reason but no
server path, and then holds nothing of it; a publisher's e-mail is shown only to the farms they
are in."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agrifleet.fleet.modelops.registry.publishers import OTHER_PUBLISHER
from tests.fleet.modelops.registry.conftest import Keys, Registry
from tests.fleet.modelops.registry.packages import archive, package_dir
from tests.fleet.people.auth.people import add_farm, add_user, bearer, personal_token


def _stored(registry: Registry) -> list[str]:
    models = registry.data_dir / "models"
    found = sorted(str(p.relative_to(models)) for p in models.glob("*/*") if p.is_dir())
    return [f for f in found if not f.startswith(".incoming")]


def _refused(registry: Registry, data: bytes, reason: str) -> str:
    """The refusal's message, after checking it is a 422 of that reason and nothing stayed."""
    response = registry.publish(data)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]  # the API's validation shape, type = the reason
    assert error["type"] == reason and error["loc"] == ["body"], error
    detail = error["msg"]
    assert detail.startswith(f"{reason}:"), detail
    for folder in (registry.data_dir, registry.data_dir.resolve()):  # no server path shown
        assert str(folder) not in detail, detail
    assert registry.fleet.get("/api/v1/models") == []
    assert _stored(registry) == []
    return str(detail)


def test_a_signed_package_is_accepted_listed_and_shown_with_its_publisher(
    registry: Registry, keys: Keys, tmp_path: Path
) -> None:
    data = archive(package_dir(tmp_path / "p", "1.2.0", keys.key))
    response = registry.publish(data)
    assert response.status_code == 201, response.text
    listed = registry.fleet.get("/api/v1/models")
    assert [(m["name"], m["version"], m["size"]) for m in listed] == [
        ("leaf-disease", "1.2.0", len(data))]
    assert listed[0]["url"] == ("http://fleet.example:8000/api/v1/models/leaf-disease/1.2.0/"
                                "package")
    shown = registry.fleet.get("/api/v1/models/leaf-disease/1.2.0")
    assert shown["published_by"] == "tess" and shown["published_role"] == "technician"
    assert shown["manifest"]["version"] == "1.2.0"
    assert shown["metrics"]["int8"]["test"]["top1"] > 0.9
    folder = registry.data_dir / "models" / "leaf-disease" / "1.2.0"
    assert (folder / "package.tar.gz").read_bytes() == data
    assert (folder / "package" / "model.tflite").is_file()


def test_a_publishers_e_mail_is_shown_only_to_those_who_share_a_farm_with_them(
    registry: Registry, keys: Keys, tmp_path: Path
) -> None:
    engine = registry.fleet.app.state.engine
    alpha, bravo = add_farm(engine, "Alpha"), add_farm(engine, "Bravo")
    _, tess = personal_token(engine, add_user(engine, "tess@alpha.example",
                                              {alpha: "technician"}))
    _, ana = personal_token(engine, add_user(engine, "ana@alpha.example", {alpha: "viewer"}))
    _, bob = personal_token(engine, add_user(engine, "bob@bravo.example", {bravo: "viewer"}))
    data = archive(package_dir(tmp_path / "p", "1.2.0", keys.key))
    assert registry.publish(data, headers=bearer(tess)).status_code == 201

    def seen(secret: str | None) -> tuple[str, str]:
        headers = registry.fleet.viewer if secret is None else bearer(secret)
        listed = registry.fleet.client.get("/api/v1/models", headers=headers).json()
        one = registry.fleet.client.get("/api/v1/models/leaf-disease/1.2.0", headers=headers)
        return listed[0]["published_by"], one.json()["published_by"]

    assert seen(ana) == seen(None) == ("tess@alpha.example",) * 2
    assert seen(bob) == (OTHER_PUBLISHER,) * 2


def test_a_viewer_cannot_publish(registry: Registry, keys: Keys, tmp_path: Path) -> None:
    data = archive(package_dir(tmp_path / "p", "1.2.0", keys.key))
    response = registry.publish(data, headers=registry.fleet.viewer)
    assert response.status_code == 403
    assert registry.fleet.get("/api/v1/models") == []


def test_garbage_is_a_corrupt_archive(registry: Registry) -> None:
    _refused(registry, b"this is not a tar.gz at all" * 10, "corrupt_archive")


def test_a_truncated_archive_is_refused(registry: Registry, keys: Keys, tmp_path: Path) -> None:
    data = archive(package_dir(tmp_path / "p", "1.2.0", keys.key))
    _refused(registry, data[: len(data) // 2], "corrupt_archive")


@pytest.mark.parametrize("victim", ["model.tflite", "labels.txt", "MODEL_CARD.md",
                                    "manifest.json"])
def test_a_changed_byte_in_any_file_is_refused(
    registry: Registry, keys: Keys, tmp_path: Path, victim: str
) -> None:
    pkg = package_dir(tmp_path / "p", "1.2.0", keys.key)
    path = pkg / victim
    raw = bytearray(path.read_bytes())
    # In the manifest, a letter of a text (still valid JSON, so it can be packed).
    at = raw.index(b"Pillow") + 4 if victim == "manifest.json" else len(raw) // 2
    raw[at] ^= 0x01
    path.write_bytes(bytes(raw))
    data = archive(pkg)
    detail = _refused(registry, data, "bad_signature" if victim == "manifest.json"
                      else "tampered")
    assert victim in detail or victim == "manifest.json"


def _resign(pkg: Path, key: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Edit manifest.json and sign exactly those bytes (as a careless or hostile tool would)."""
    from agrifleet import signing

    manifest = json.loads((pkg / "manifest.json").read_text())
    change(manifest)
    data = (json.dumps(manifest, indent=2) + "\n").encode()
    (pkg / "manifest.json").write_bytes(data)
    sig = signing.sign_bytes(signing.load_private_key(key), data)
    (pkg / "manifest.sig").write_text(json.dumps(sig))


def test_a_wrong_sha256_in_the_signed_manifest_is_refused(
    registry: Registry, keys: Keys, tmp_path: Path
) -> None:
    pkg = package_dir(tmp_path / "p", "1.2.0", keys.key)

    def wrong_sha(manifest: dict[str, Any]) -> None:
        manifest["sha256"] = "0" * 64
        for entry in manifest["files"]:
            if entry["path"] == "model.tflite":
                entry["sha256"] = "0" * 64

    _resign(pkg, keys.key, wrong_sha)
    detail = _refused(registry, archive(pkg), "tampered")
    assert "model.tflite" in detail


def test_an_unsigned_package_is_refused(registry: Registry, tmp_path: Path) -> None:
    pkg = package_dir(tmp_path / "p", "1.2.0", None)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for f in sorted(pkg.iterdir()):
            tar.add(f, arcname=f.name)
    _refused(registry, buf.getvalue(), "unsigned")


def test_a_package_signed_by_another_key_is_refused(
    registry: Registry, keys: Keys, tmp_path: Path
) -> None:
    _refused(registry, archive(package_dir(tmp_path / "p", "1.2.0", keys.other_key)),
             "unknown_key")


def test_an_expired_package_is_refused(registry: Registry, keys: Keys, tmp_path: Path) -> None:
    pkg = package_dir(tmp_path / "p", "1.2.0", keys.key)

    def expired(manifest: dict[str, Any]) -> None:
        manifest["signing"].update(signed_at="2020-01-01T00:00:00Z",
                                   expires_at="2020-02-01T00:00:00Z")

    _resign(pkg, keys.key, expired)
    _refused(registry, archive(pkg), "expired")


def test_an_equal_or_older_version_is_a_conflict(
    registry: Registry, keys: Keys, tmp_path: Path
) -> None:
    assert registry.publish(archive(package_dir(tmp_path / "a", "1.2.0", keys.key))
                            ).status_code == 201
    for version, reason in (("1.2.0", "same_version"), ("1.1.9", "downgrade")):
        # Signed to expire on another day: another archive (the very same one answers 200).
        other = package_dir(tmp_path / version, version, keys.key, expires_days=29)
        response = registry.publish(archive(other))
        assert response.status_code == 409, response.text
        assert response.json()["detail"].startswith(reason)
    assert [m["version"] for m in registry.fleet.get("/api/v1/models")] == ["1.2.0"]
    assert _stored(registry) == ["leaf-disease/1.2.0"]


def _evil(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


@pytest.mark.parametrize("member", [
    _file("../escape.txt"),
    _file("/etc/agrifleet-evil"),
    _file("selftest/../../escape.txt"),
    _link("model.tflite", "/etc/passwd", tarfile.SYMTYPE),
    _link("labels.txt", "manifest.json", tarfile.LNKTYPE),
    _link("dev", "", tarfile.CHRTYPE),
], ids=["dotdot", "absolute", "nested-dotdot", "symlink", "hardlink", "device"])
def test_unsafe_archive_members_are_refused_and_nothing_escapes(
    registry: Registry, tmp_path: Path, member: tuple[tarfile.TarInfo, bytes | None]
) -> None:
    _refused(registry, _evil([_file("manifest.json", b"{}"), member]), "unsafe_archive")
    assert not (registry.data_dir / "escape.txt").exists()
    assert not (registry.data_dir / "models" / "escape.txt").exists()


def test_a_package_whose_self_test_gives_other_answers_is_refused(
    registry: Registry, keys: Keys, tmp_path: Path
) -> None:
    from agrifleet.package import sign_package

    pkg = package_dir(tmp_path / "p", "1.2.0", None)
    answers_path = pkg / "selftest" / "answers.json"
    answers = json.loads(answers_path.read_text())
    first = sorted(answers["images"])[0]
    labels = json.loads((pkg / "manifest.json").read_text())["labels"]
    recorded = answers["images"][first]["label"]
    answers["images"][first]["label"] = next(lb for lb in labels if lb != recorded)
    answers_path.write_text(json.dumps(answers))
    sign_package(pkg, keys.key)  # signed as it is: only running it shows the lie
    detail = _refused(registry, archive(pkg), "selftest_failed")
    assert first in detail


def test_a_signed_file_the_interpreter_cannot_load_is_refused(
    registry: Registry, keys: Keys, tmp_path: Path
) -> None:
    import hashlib

    from agrifleet.package import sign_package

    pkg = package_dir(tmp_path / "p", "1.2.0", None)
    junk = b"\x00not a flatbuffer" * 4096
    (pkg / "model.tflite").write_bytes(junk)
    manifest = json.loads((pkg / "manifest.json").read_text())
    manifest.update(sha256=hashlib.sha256(junk).hexdigest(), size_bytes=len(junk))
    (pkg / "manifest.json").write_text(json.dumps(manifest))
    answers = json.loads((pkg / "selftest" / "answers.json").read_text())
    answers["model_sha256"] = manifest["sha256"]  # recorded "for" the junk: signing accepts it
    (pkg / "selftest" / "answers.json").write_text(json.dumps(answers))
    sign_package(pkg, keys.key)
    _refused(registry, archive(pkg), "invalid_model")


def test_a_data_directory_that_cannot_hold_it_is_a_clear_507(
    registry: Registry, keys: Keys, tmp_path: Path
) -> None:
    data = archive(package_dir(tmp_path / "p", "1.2.0", keys.key))
    models = registry.data_dir / "models"
    models.mkdir(parents=True, exist_ok=True)
    (models / ".incoming").write_text("in the way")  # as unwritable as a full disk, even as root
    response = registry.publish(data)
    assert response.status_code == 507
    assert "cannot store the package" in response.json()["detail"]
    assert registry.fleet.get("/api/v1/models") == []
    (models / ".incoming").unlink()
    assert registry.publish(data).status_code == 201  # and it works once there is room


def test_what_a_crash_left_half_uploaded_is_removed_at_start(
    tmp_path: Path, keys: Keys
) -> None:
    from agrifleet.fleet.settings import FleetSettings
    from tests.fleet.conftest import running_fleet

    leftover = tmp_path / "data" / "models" / ".incoming" / "dead"
    leftover.mkdir(parents=True)
    (leftover / "package.tar.gz").write_bytes(b"half")
    hours_ago = time.time() - 7 * 3600  # younger: maybe another process's upload in progress
    os.utime(leftover, (hours_ago, hours_ago))
    settings = FleetSettings(database_url=f"sqlite:///{tmp_path / 'f.db'}",
                             data_dir=tmp_path / "data", model_keys=(keys.pub,))
    with running_fleet(settings):
        assert not leftover.exists()


def test_rollouts_without_mqtt_are_a_clear_409(registry: Registry) -> None:
    response = registry.fleet.client.post(
        "/api/v1/rollouts", headers=registry.technician,
        json={"model": "leaf-disease", "version": "1.2.0", "targets": {"all": True}})
    assert response.status_code == 409 and "AGRIFLEET_MQTT_URL" in response.text


def _resigned(pkg_dir: Path, key: Path, **changes: str) -> bytes:
    """The archive of a package whose signed manifest says ``changes``: what a holder of a
    trusted key could sign by hand, past the checks of ``agrifleet model sign``."""
    from agrifleet import signing

    manifest = json.loads((pkg_dir / "manifest.json").read_text())
    manifest.update(changes)
    data = (json.dumps(manifest, indent=2) + "\n").encode()
    (pkg_dir / "manifest.json").write_bytes(data)
    sig = signing.sign_bytes(signing.load_private_key(key), data)
    (pkg_dir / "manifest.sig").write_text(json.dumps(sig))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:  # by hand: pack would refuse it
        for name in ["manifest.json", "manifest.sig", *(f["path"] for f in manifest["files"])]:
            tar.add(pkg_dir / name, arcname=name)
    return raw.getvalue()


@pytest.mark.parametrize("changes", [
    {"version": "1.2." + "0" * 40},
    {"name": "leaf-" + "x" * 70},
], ids=["version-over-32", "name-over-64"])
def test_a_name_or_version_longer_than_offers_and_routes_allow_is_refused(
    registry: Registry, keys: Keys, tmp_path: Path, changes: dict[str, str]
) -> None:
    data = _resigned(package_dir(tmp_path / "p", "1.2.0", keys.key), keys.key, **changes)
    assert "at most" in _refused(registry, data, "invalid_manifest")


def test_an_empty_body_or_no_token_is_refused_clearly(registry: Registry) -> None:
    _refused(registry, b"", "corrupt_archive")
    anonymous = registry.fleet.client.post("/api/v1/models", content=b"x",
                                           headers={"Content-Type": "application/gzip"})
    assert anonymous.status_code == 401
