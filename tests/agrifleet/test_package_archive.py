"""safe_extract unpacks only plain files with safe names within limits, and leaves nothing behind;
pack gives the same bytes for the same signed package, and only for a signed one.

The hostile archives are made by hand with tarfile, the way an attacker would make them.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from agrifleet.package import PackageError, pack, safe_extract, verify_package
from tests.agrifleet.package_folders import copy_package, needs_base_model


def member(name: str, data: bytes = b"x", kind: bytes = tarfile.REGTYPE,
           link: str = "", size: int | None = None) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE and size is None else (size or 0)
    return info, data


def archive(path: Path, *members: tuple[tarfile.TarInfo, bytes],
            fmt: int = tarfile.PAX_FORMAT) -> Path:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    path.write_bytes(gzip.compress(raw.getvalue()))
    return path


def refused(reason: str, path: Path, dest: Path, **limits: int) -> str:
    with pytest.raises(PackageError) as info:
        safe_extract(path, dest, **limits)
    assert info.value.reason == reason, str(info.value)
    assert not dest.exists(), "a refused archive must leave nothing behind"
    return str(info.value)


def test_plain_files_and_folders_are_extracted(tmp_path: Path) -> None:
    path = archive(tmp_path / "ok.tar.gz", member("manifest.json", b"{}"),
                   member("selftest", kind=tarfile.DIRTYPE),
                   member("selftest/answers.json", b"[]"), member("a/b/c.txt", b"deep"))
    dest = safe_extract(path, tmp_path / "out")
    assert (dest / "manifest.json").read_bytes() == b"{}"
    assert (dest / "selftest" / "answers.json").read_bytes() == b"[]"
    assert (dest / "a" / "b" / "c.txt").read_bytes() == b"deep"


@pytest.mark.parametrize("name", [
    "../evil", "a/../../evil", "/etc/passwd", "a/./b", "a//b", "a\\b", "bad\x01name", ".",
    "x" * 300,
])
def test_unsafe_names_are_refused(tmp_path: Path, name: str) -> None:
    path = archive(tmp_path / "bad.tar.gz", member("manifest.json"), member(name))
    refused("unsafe_archive", path, tmp_path / "out")
    assert not (tmp_path / "evil").exists()


@pytest.mark.parametrize(("kind", "link"), [
    (tarfile.SYMTYPE, "/etc/passwd"), (tarfile.SYMTYPE, "manifest.json"),
    (tarfile.LNKTYPE, "manifest.json"), (tarfile.LNKTYPE, "/etc/shadow"),
])
def test_links_are_refused(tmp_path: Path, kind: bytes, link: str) -> None:
    path = archive(tmp_path / "link.tar.gz", member("manifest.json"),
                   member("model.tflite", kind=kind, link=link))
    assert "link" in refused("unsafe_archive", path, tmp_path / "out")


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE,
                                  tarfile.CONTTYPE])
def test_devices_and_fifos_are_refused(tmp_path: Path, kind: bytes) -> None:
    path = archive(tmp_path / "dev.tar.gz", member("manifest.json"),
                   member("model.tflite", kind=kind), fmt=tarfile.GNU_FORMAT)
    assert "not a regular file" in refused("unsafe_archive", path, tmp_path / "out")


def test_a_pax_header_cannot_smuggle_a_path(tmp_path: Path) -> None:
    info, data = member("innocent.txt", b"x")
    info.pax_headers = {"path": "../../evil"}
    path = archive(tmp_path / "pax.tar.gz", (info, data))
    refused("unsafe_archive", path, tmp_path / "out")
    long, data = member("a/" * 60 + "deep.txt", b"x")  # GNU long name
    path = archive(tmp_path / "long.tar.gz", (long, data), fmt=tarfile.GNU_FORMAT)
    safe_extract(path, tmp_path / "long")
    assert (tmp_path / "long" / ("a/" * 60 + "deep.txt")).read_bytes() == b"x"


def test_a_tar_without_gzip_is_refused(tmp_path: Path) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info, data = member("manifest.json", b"{}")
        tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "plain.tar.gz"
    path.write_bytes(raw.getvalue())
    refused("corrupt_archive", path, tmp_path / "out")


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    path = archive(tmp_path / "dup.tar.gz", member("model.tflite", b"good"),
                   member("model.tflite", b"evil"))
    assert "twice" in refused("unsafe_archive", path, tmp_path / "out")


def test_a_file_where_a_folder_is_expected_is_refused(tmp_path: Path) -> None:
    path = archive(tmp_path / "clash.tar.gz", member("selftest", b"file"),
                   member("selftest/answers.json", b"{}"))
    refused("unsafe_archive", path, tmp_path / "out")


def test_a_huge_member_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = archive(tmp_path / "big.tar.gz", member("model.tflite", b"\0" * 5000))
    assert "bytes" in refused("too_large", path, tmp_path / "out", max_bytes=4096)


def test_a_gzip_bomb_is_refused_before_tar_reads_it(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.tar.gz"
    bomb.write_bytes(gzip.compress(b"\0" * (4 << 20)))  # 4 MiB of zeros in 4 KiB
    assert bomb.stat().st_size < 8192
    assert "inflates" in refused("too_large", bomb, tmp_path / "out", max_bytes=65536)
    info, _ = member("innocent.txt", b"x")
    info.pax_headers = {"comment": "x" * (2 << 20)}  # a 2 MiB PAX header
    path = archive(tmp_path / "pax-bomb.tar.gz", (info, b"x"))
    refused("too_large", path, tmp_path / "out", max_bytes=65536)


def test_the_total_size_is_limited(tmp_path: Path) -> None:
    path = archive(tmp_path / "sum.tar.gz", *(member(f"f{i}", b"\0" * 1000) for i in range(5)))
    refused("too_large", path, tmp_path / "out", max_bytes=4500)


def test_too_many_files_are_refused(tmp_path: Path) -> None:
    path = archive(tmp_path / "many.tar.gz", *(member(f"f{i:03}") for i in range(20)))
    refused("too_large", path, tmp_path / "out", max_files=10)
    dirs = archive(tmp_path / "dirs.tar.gz",
                   *(member(f"d{i:03}", kind=tarfile.DIRTYPE) for i in range(20)))
    refused("too_large", dirs, tmp_path / "out", max_files=10)


def test_a_truncated_gzip_is_refused(tmp_path: Path) -> None:
    good = archive(tmp_path / "good.tar.gz", member("model.tflite", bytes(range(256)) * 400))
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    refused("corrupt_archive", cut, tmp_path / "out")


# mtime=0: the same bytes (and test ids) in every test worker, whenever it collects
@pytest.mark.parametrize("data", [b"", b"not a gzip file at all",
                                  gzip.compress(b"not a tar" * 99, mtime=0),
                                  gzip.compress(b"\0" * 10240, mtime=0)],
                         ids=["empty", "text", "gzip of no tar", "gzip of zeros"])
def test_garbage_is_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "junk.tar.gz"
    path.write_bytes(data)
    refused("corrupt_archive", path, tmp_path / "out")


def test_a_missing_archive_is_refused(tmp_path: Path) -> None:
    assert "no such file" in refused("corrupt_archive", tmp_path / "absent.tar.gz",
                                     tmp_path / "out")
    (tmp_path / "folder.tar.gz").mkdir()
    refused("corrupt_archive", tmp_path / "folder.tar.gz", tmp_path / "out")


def test_only_a_new_folder_is_extracted_into(tmp_path: Path) -> None:
    path = archive(tmp_path / "ok.tar.gz", member("manifest.json"))
    dest = tmp_path / "existing"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(PackageError) as info:
        safe_extract(path, dest)
    assert info.value.reason == "unsafe_archive"
    assert (dest / "keep.txt").read_text() == "mine"


@needs_base_model
def test_pack_is_deterministic_and_round_trips(signed: Path, trusted: dict,
                                               tmp_path: Path) -> None:
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    digest = pack(signed, first)
    os.utime(signed / "labels.txt", (0, 1_700_000_000))
    assert pack(signed, second) == digest
    assert first.read_bytes() == second.read_bytes()
    unpacked = safe_extract(first, tmp_path / "unpacked")
    assert verify_package(unpacked, trusted) == verify_package(signed, trusted)


@needs_base_model
def test_pack_refuses_an_unsigned_folder(tmp_path: Path) -> None:
    with pytest.raises(PackageError) as info:
        pack(copy_package(tmp_path / "pkg"), tmp_path / "out.tar.gz")
    assert info.value.reason == "unsigned"
