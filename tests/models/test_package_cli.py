"""``agrifleet model keygen/sign/verify/selftest`` work from the command line and fail clearly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agrifleet.cli import main
from tests.agrifleet.inference.conftest import leaf_jpeg
from tests.base_model import BASE_MODEL_DIR, BASE_VERSION, needs_model


def _package_copy(dest: Path) -> Path:
    """A copy of the base model folder (without its float reference)."""
    shutil.copytree(BASE_MODEL_DIR, dest,
                    ignore=shutil.ignore_patterns("model_float.tflite"))
    return dest


@needs_model
def test_keygen_sign_verify_from_the_command_line(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    keys = tmp_path / "keys"
    assert main(["model", "keygen", "--out", str(keys)]) == 0
    assert (keys / "signing.key").stat().st_mode & 0o777 == 0o600
    assert "key id" in capsys.readouterr().out
    assert main(["model", "keygen", "--out", str(keys)]) == 2  # never overwrites a key
    assert "already exists" in capsys.readouterr().out

    pkg = _package_copy(tmp_path / "pkg")
    assert main(["model", "sign", str(pkg), "--key", str(keys / "signing.key"),
                 "--expires-days", "10"]) == 0
    assert "signed" in capsys.readouterr().out and (pkg / "manifest.sig").is_file()
    assert main(["model", "verify", str(pkg), "--key", str(keys / "signing.pub")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"OK leaf-disease {BASE_VERSION}") and "images as recorded" in out


@needs_model
def test_verify_an_archive_and_an_upgrade(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from agrifleet.package import generate_keypair, pack, sign_package

    key, pub = generate_keypair(tmp_path / "keys")
    pkg = _package_copy(tmp_path / BASE_VERSION)
    sign_package(pkg, key)
    archive = tmp_path / "pkg.tar.gz"
    pack(pkg, archive)
    assert main(["model", "verify", str(archive), "--key", str(pub), "--no-selftest"]) == 0
    assert main(["model", "verify", str(archive), "--key", str(pub),
                 "--current", str(BASE_MODEL_DIR)]) == 1
    assert "REFUSED (same_version)" in capsys.readouterr().out.splitlines()[-1]


@needs_model
def test_verify_refuses_with_the_reason(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from agrifleet.package import generate_keypair, sign_package

    key, _ = generate_keypair(tmp_path / "keys")
    _, other = generate_keypair(tmp_path / "other")
    pkg = _package_copy(tmp_path / "pkg")
    assert main(["model", "verify", str(pkg), "--key", str(other)]) == 1
    assert "REFUSED (unsigned)" in capsys.readouterr().out
    sign_package(pkg, key)
    assert main(["model", "verify", str(pkg), "--key", str(other)]) == 1
    assert "REFUSED (unknown_key)" in capsys.readouterr().out
    (pkg / "selftest" / "extra.png").write_bytes(b"x")
    assert main(["model", "verify", str(pkg), "--key", str(tmp_path / "keys" / "signing.pub")
                 ]) == 1
    assert "REFUSED (tampered)" in capsys.readouterr().out
    assert main(["model", "verify", str(pkg), "--key", str(tmp_path / "absent.pub")]) == 1
    assert "REFUSED (bad_key)" in capsys.readouterr().out


def test_sign_with_a_missing_key_is_one_line(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "sign", str(tmp_path), "--key", str(tmp_path / "nope.key")]) == 2
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1 and "no such key file" in out


@needs_model
def test_selftest_from_the_command_line(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    pkg = _package_copy(tmp_path / "pkg")
    assert main(["model", "selftest", str(pkg)]) == 0
    assert "images as recorded" in capsys.readouterr().out
    leaf = tmp_path / "leaf.jpg"
    leaf.write_bytes(leaf_jpeg())
    assert main(["model", "selftest", str(pkg), "--images", str(leaf)]) == 0
    assert "wrote 1 self-test images" in capsys.readouterr().out
    (pkg / "selftest" / "answers.json").unlink()
    assert main(["model", "selftest", str(pkg)]) == 2
    assert "no selftest/answers.json" in capsys.readouterr().out


def test_signing_without_cryptography_gives_a_one_line_hint(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; sys.modules['cryptography'] = None\n"
            "from agrifleet.cli import main\n"
            f"sys.exit(main(['model', 'keygen', '--out', {str(tmp_path / 'k')!r}]))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "agrifleet[sign]" in done.stderr
    assert not (tmp_path / "k" / "signing.key").exists()


@needs_model
def test_verify_names_the_archive_not_its_temporary_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import subprocess

    from agrifleet.package import generate_keypair, sign_package

    key, pub = generate_keypair(tmp_path / "keys")
    pkg = _package_copy(tmp_path / "pkg")
    sign_package(pkg, key)
    nested = tmp_path / "nested.tar.gz"
    subprocess.run(["tar", "-C", str(tmp_path), "-czf", str(nested), "pkg"], check=True)
    assert main(["model", "verify", str(nested), "--key", str(pub)]) == 1
    out = capsys.readouterr().out
    assert f"REFUSED (missing_file): {nested}: no manifest.json" in out
    assert "agrifleet-verify-" not in out
