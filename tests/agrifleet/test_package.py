"""A signed package verifies only when intact, trusted, current and newer; anything else is refused.

Every refusal the fleet's registry and the node's updater must give is checked here on a real
copy of the base model (1.1.0, with its float reference), signed with keys made for the test; a
bumped copy of the shipped default is an upgrade of it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from agrifleet.manifest import read_manifest
from agrifleet.models.shipped import (
    DEFAULT_VERSION,
    default_model_dir,
    models_root,
    release_public_key,
    release_public_keys,
)
from agrifleet.package import (
    SIG_NAME,
    PackageError,
    check_upgrade,
    generate_keypair,
    load_public_keys,
    pack,
    receive_package,
    safe_extract,
    sign_package,
    verify_package,
)
from tests.agrifleet.package_folders import copy_package, needs_base_model
from tests.base_model import BASE_MODEL_DIR, BASE_VERSION

SHIPPED = default_model_dir()
pytestmark = needs_base_model


def set_version(pkg: Path, version: str) -> None:
    data = json.loads((pkg / "manifest.json").read_text())
    data["version"] = version
    (pkg / "manifest.json").write_text(json.dumps(data, indent=2))


def refused(reason: str, pkg: Path, trusted: dict, **kw: object) -> PackageError:
    with pytest.raises(PackageError) as info:
        verify_package(pkg, trusted, **kw)  # type: ignore[arg-type]
    assert info.value.reason == reason, str(info.value)
    assert "\n" not in str(info.value)
    return info.value


def test_sign_then_verify_round_trip(tmp_path: Path, keys: tuple[Path, Path],
                                     trusted: dict) -> None:
    pkg = copy_package(tmp_path / "pkg", with_float=True)
    sig = sign_package(pkg, keys[0], expires_days=30)
    manifest = verify_package(pkg, trusted)
    assert sig.key_id in trusted and manifest.signing is not None
    assert manifest.signing.key_id == sig.key_id
    assert manifest.signing.expires_at - manifest.signing.signed_at == timedelta(days=30)
    listed = {f.path for f in manifest.files}
    assert {"model.tflite", "labels.txt", "MODEL_CARD.md", "eval_report.json"} <= listed
    assert not listed & {"manifest.json", SIG_NAME, "model_float.tflite"}
    assert sig.files == len(listed)
    # The model file's entry agrees with the manifest's own checksum.
    model = next(f for f in manifest.files if f.path == manifest.file)
    assert (model.sha256, model.size) == (manifest.sha256, manifest.size_bytes)
    # read_manifest (used by the classifier) still reads a signed manifest.
    assert read_manifest(pkg) == manifest


def test_a_changed_byte_in_any_file_is_refused(signed: Path, trusted: dict) -> None:
    names = sorted(p.relative_to(signed).as_posix() for p in signed.rglob("*") if p.is_file())
    assert len(names) >= 8
    for name in names:
        path = signed / name
        original = path.read_bytes()
        changed = bytearray(original)
        changed[len(changed) // 2] ^= 0x01
        path.write_bytes(bytes(changed))
        expected = "bad_signature" if name in ("manifest.json", SIG_NAME) else "tampered"
        refused(expected, signed, trusted)
        path.write_bytes(original)
    verify_package(signed, trusted)  # restored: accepted again


def test_a_wrong_size_or_a_truncated_file_is_refused(signed: Path, trusted: dict) -> None:
    card = signed / "MODEL_CARD.md"
    card.write_bytes(card.read_bytes()[:-1])
    assert "bytes, signed as" in str(refused("tampered", signed, trusted))


def test_unsigned_is_refused(tmp_path: Path, signed: Path, trusted: dict) -> None:
    refused("unsigned", copy_package(tmp_path / "never-signed"), trusted)
    (signed / SIG_NAME).unlink()
    refused("unsigned", signed, trusted)


def test_another_key_is_refused(signed: Path, other_keys: tuple[Path, Path]) -> None:
    refused("unknown_key", signed, load_public_keys([other_keys[1]]))
    refused("unknown_key", signed, {})


def test_a_signature_by_another_key_under_a_trusted_key_id_is_refused(
    tmp_path: Path, signed: Path, trusted: dict, other_keys: tuple[Path, Path]
) -> None:
    forged = copy_package(tmp_path / "forged")
    sign_package(forged, other_keys[0])
    sig = json.loads((forged / SIG_NAME).read_text())
    sig["key_id"] = next(iter(trusted))
    (forged / SIG_NAME).write_text(json.dumps(sig))
    refused("bad_signature", forged, trusted)
    # Someone else's valid signature file next to our manifest does not match it either.
    shutil.copyfile(forged / SIG_NAME, signed / SIG_NAME)
    refused("bad_signature", signed, trusted)


def test_a_garbled_signature_file_is_refused(signed: Path, trusted: dict) -> None:
    for junk in (b"", b"not json", b'{"key_id": 3}', b"x" * 100_000,
                 json.dumps({"algorithm": "ed25519", "key_id": next(iter(trusted)),
                             "signature": "!!"}).encode()):
        (signed / SIG_NAME).write_bytes(junk)
        error = refused("bad_signature", signed, trusted)
        assert len(str(error)) < 300


def test_expired_is_refused(signed: Path, trusted: dict) -> None:
    manifest = verify_package(signed, trusted)
    assert manifest.signing is not None
    expires = manifest.signing.expires_at
    verify_package(signed, trusted, now=expires - timedelta(seconds=1))
    refused("expired", signed, trusted, now=expires)
    refused("expired", signed, trusted, now=expires + timedelta(days=400))


def test_a_naive_now_is_taken_as_utc(signed: Path, trusted: dict) -> None:
    manifest = verify_package(signed, trusted)
    assert manifest.signing is not None
    naive = manifest.signing.expires_at.astimezone(UTC).replace(tzinfo=None)
    refused("expired", signed, trusted, now=naive)
    verify_package(signed, trusted, now=naive - timedelta(minutes=1))


def test_expiry_must_be_sensible(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    pkg = copy_package(tmp_path / "pkg")
    for days in (0, -1, 100_000):
        with pytest.raises(PackageError):
            sign_package(pkg, keys[0], expires_days=days)
    assert not (pkg / SIG_NAME).exists()


def test_an_unlisted_file_is_refused(signed: Path, trusted: dict) -> None:
    (signed / "extra.py").write_text("print('hello')\n")
    assert "extra.py" in str(refused("tampered", signed, trusted))


def test_a_missing_file_is_refused(signed: Path, trusted: dict) -> None:
    (signed / "labels.txt").unlink()
    assert "labels.txt" in str(refused("missing_file", signed, trusted))


def test_links_in_a_package_folder_are_refused(signed: Path, trusted: dict,
                                               tmp_path: Path) -> None:
    card = signed / "MODEL_CARD.md"
    outside = tmp_path / "card.md"
    shutil.move(card, outside)
    card.symlink_to(outside)
    refused("unsafe_archive", signed, trusted)


def test_the_float_reference_stays_outside_the_package(tmp_path: Path, keys: tuple[Path, Path],
                                                       trusted: dict) -> None:
    pkg = copy_package(tmp_path / "pkg", with_float=True)
    sign_package(pkg, keys[0])
    archive = tmp_path / "pkg.tar.gz"
    pack(pkg, archive)
    unpacked = safe_extract(archive, tmp_path / "unpacked")
    assert not (unpacked / "model_float.tflite").exists()
    assert verify_package(unpacked, trusted).float_reference == "model_float.tflite"


def test_an_invalid_manifest_is_not_signed(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    pkg = copy_package(tmp_path / "pkg")
    data = json.loads((pkg / "manifest.json").read_text())
    data["colour"] = "green"
    (pkg / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(PackageError) as info:
        sign_package(pkg, keys[0])
    assert info.value.reason == "invalid_manifest" and "colour" in str(info.value)


def test_labels_must_match_the_manifest(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    pkg = copy_package(tmp_path / "pkg")
    labels = (pkg / "labels.txt").read_text().splitlines()
    (pkg / "labels.txt").write_text("\n".join(reversed(labels)) + "\n")
    with pytest.raises(PackageError) as info:
        sign_package(pkg, keys[0])
    assert info.value.reason == "invalid_manifest"
    (pkg / "labels.txt").write_bytes(b"\xff\xfe not utf-8\n")
    with pytest.raises(PackageError) as info:
        sign_package(pkg, keys[0])
    assert info.value.reason == "invalid_manifest" and "UTF-8" in str(info.value)


def test_a_bumped_copy_of_the_shipped_model_is_a_valid_upgrade(
    tmp_path: Path, keys: tuple[Path, Path], trusted: dict
) -> None:
    major, minor, patch = DEFAULT_VERSION.split(".")
    bumped = f"{major}.{minor}.{int(patch) + 1}"
    pkg = copy_package(tmp_path / bumped, with_float=True, source=SHIPPED)
    set_version(pkg, bumped)
    sign_package(pkg, keys[0])
    new = verify_package(pkg, trusted)
    assert new.version == bumped
    check_upgrade(new, read_manifest(SHIPPED))


def test_the_shipped_model_is_signed_by_the_current_release_key_in_the_repository() -> None:
    manifest = verify_package(SHIPPED, load_public_keys([release_public_key()]))
    assert manifest.version == DEFAULT_VERSION and manifest.signing is not None
    assert manifest.signing.key_id == json.loads((SHIPPED / "manifest.sig").read_text())["key_id"]


def test_every_signed_shipped_version_verifies_with_a_release_key() -> None:
    keys = load_public_keys(release_public_keys())
    signed = [p.parent for p in models_root().glob("*/*/manifest.sig")]
    assert SHIPPED in signed
    for folder in signed:
        assert verify_package(folder, keys).signing is not None


SHIPPED_FOLDERS = sorted(p.parent for p in models_root().glob("*/*/manifest.json"))


@pytest.mark.parametrize("folder", SHIPPED_FOLDERS, ids=lambda p: f"{p.parent.name}-{p.name}")
def test_every_shipped_model_folder_is_a_complete_package(
    folder: Path, tmp_path: Path, keys: tuple[Path, Path], trusted: dict
) -> None:
    assert not (folder / "signing.key").exists()
    pkg = shutil.copytree(folder, tmp_path / "pkg")
    sign_package(pkg, keys[0])
    manifest = verify_package(pkg, trusted)
    listed = {f.path for f in manifest.files}
    assert {"selftest/answers.json", "MODEL_CARD.md", "labels.txt", manifest.file} <= listed
    assert sum(f.size for f in manifest.files) <= 6 * 1024 * 1024  # no float model (13.6 MB)


def test_receive_package_unpacks_verifies_and_checks_the_upgrade(
    tmp_path: Path, keys: tuple[Path, Path], trusted: dict
) -> None:
    pkg = copy_package(tmp_path / "1.2.0")
    set_version(pkg, "1.2.0")
    sign_package(pkg, keys[0])
    archive = tmp_path / "pkg.tar.gz"
    pack(pkg, archive)
    current = read_manifest(BASE_MODEL_DIR)
    got = receive_package(archive, tmp_path / "in", trusted, current=current)
    assert got.version == "1.2.0" and (tmp_path / "in" / "model.tflite").is_file()
    newer = got.model_copy(update={"version": "1.3.0"})
    for kwargs, reason in (({"current": newer}, "downgrade"), ({"trusted": {}}, "unknown_key")):
        args = {"current": current, "trusted": trusted, **kwargs}
        with pytest.raises(PackageError) as info:
            receive_package(archive, tmp_path / "again", **args)  # type: ignore[arg-type]
        assert info.value.reason == reason
        assert not (tmp_path / "again").exists()
    receive_package(archive, tmp_path / "back", trusted, current=newer, rollback=True)


def test_an_archive_made_with_gnu_tar_is_accepted(signed: Path, trusted: dict,
                                                  tmp_path: Path) -> None:
    archive = tmp_path / "by-hand.tar.gz"
    subprocess.run(["tar", "-C", str(signed), "-czf", str(archive), "."], check=True)
    assert receive_package(archive, tmp_path / "in", trusted).version == BASE_VERSION


def test_an_archive_with_a_leading_folder_says_so(signed: Path, trusted: dict,
                                                 tmp_path: Path) -> None:
    archive = tmp_path / "nested.tar.gz"
    subprocess.run(["tar", "-C", str(signed.parent), "-czf", str(archive), signed.name],
                   check=True)
    with pytest.raises(PackageError) as info:
        receive_package(archive, tmp_path / "in", trusted)
    assert info.value.reason == "missing_file" and "inside another folder" in str(info.value)


def test_an_archive_carrying_the_float_model_is_refused(tmp_path: Path, keys: tuple[Path, Path],
                                                        trusted: dict) -> None:
    pkg = copy_package(tmp_path / "pkg", with_float=True)
    sign_package(pkg, keys[0])
    archive = tmp_path / "fat.tar.gz"
    subprocess.run(["tar", "-C", str(pkg), "-czf", str(archive), "."], check=True)
    with pytest.raises(PackageError) as info:
        receive_package(archive, tmp_path / "in", trusted)
    assert info.value.reason == "tampered" and not (tmp_path / "in").exists()


def test_signing_again_after_a_killed_sign_gives_a_valid_package(
    tmp_path: Path, keys: tuple[Path, Path], trusted: dict
) -> None:
    pkg = copy_package(tmp_path / "pkg")
    (pkg / ".manifest.json.tmp").write_text('{"half": ')  # what a kill mid-write leaves
    sign_package(pkg, keys[0])
    manifest = verify_package(pkg, trusted)
    assert all(not f.path.startswith(".") for f in manifest.files)


def test_sign_refuses_answers_recorded_for_another_model(tmp_path: Path,
                                                         keys: tuple[Path, Path]) -> None:
    pkg = copy_package(tmp_path / "pkg")
    answers = pkg / "selftest" / "answers.json"
    data = json.loads(answers.read_text())
    data["model_sha256"] = "1" * 64
    answers.write_text(json.dumps(data))
    with pytest.raises(PackageError) as info:
        sign_package(pkg, keys[0])
    assert info.value.reason == "selftest_failed" and not (pkg / SIG_NAME).exists()


def test_sign_refuses_a_model_file_that_is_not_the_manifests(tmp_path: Path,
                                                             keys: tuple[Path, Path]) -> None:
    pkg = copy_package(tmp_path / "pkg")
    model = pkg / "model.tflite"
    model.write_bytes(model.read_bytes() + b"\0")
    with pytest.raises(PackageError) as info:
        sign_package(pkg, keys[0])
    assert info.value.reason == "invalid_manifest"
    assert sorted(p.name for p in pkg.iterdir() if p.name.startswith(".")) == []


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    key, pub = generate_keypair(tmp_path / "k")
    assert key.stat().st_mode & 0o777 == 0o600
    assert b"PRIVATE KEY" in key.read_bytes() and b"PUBLIC KEY" in pub.read_bytes()
    with pytest.raises(PackageError) as info:
        generate_keypair(tmp_path / "k")
    assert info.value.reason == "exists"
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY")


def test_key_ids_are_stable_and_distinct(keys: tuple[Path, Path],
                                         other_keys: tuple[Path, Path]) -> None:
    both = load_public_keys([keys[1], other_keys[1], keys[1]])
    assert len(both) == 2 and all(len(k) == 16 for k in both)
    assert list(load_public_keys([keys[1]])) == [k for k in both if k in
                                                 load_public_keys([keys[1]])]


def test_a_bad_key_file_is_refused_with_its_name(tmp_path: Path,
                                                 keys: tuple[Path, Path]) -> None:
    junk = tmp_path / "junk.pub"
    junk.write_text("hello\n")
    for bad in (junk, tmp_path / "absent.pub", keys[0]):
        with pytest.raises(PackageError) as info:
            load_public_keys([bad])
        assert info.value.reason == "bad_key" and bad.name in str(info.value)
    with pytest.raises(PackageError) as info:
        sign_package(tmp_path, keys[1])  # a public key cannot sign
    assert info.value.reason == "bad_key"


def test_a_world_readable_key_signs_with_a_warning(tmp_path: Path, keys: tuple[Path, Path],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    key = tmp_path / "loose.key"
    shutil.copyfile(keys[0], key)
    key.chmod(0o644)
    sign_package(copy_package(tmp_path / "pkg"), key)
    assert "chmod 600" in caplog.text and "PRIVATE" not in caplog.text


def test_trusted_keys_must_be_public_keys(signed: Path, trusted: dict) -> None:
    (kid,) = trusted
    refused("bad_key", signed, {kid: b"raw bytes"})


def test_the_package_module_imports_without_cryptography() -> None:
    code = ("import sys; sys.modules['cryptography'] = None\n"
            "import agrifleet.package, agrifleet.manifest\n"
            "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.stdout.strip() == "ok", done.stderr
