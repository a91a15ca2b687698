"""A node whose disk is too small or fills up during a download fails the update with a clear
reason, removes what it wrote and keeps running its model (a real tmpfs, so root only)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.base_model import BASE_VERSION
from tests.edge.updater.conftest import Keys, MakePackage, offer_for
from tests.edge.updater.package_server import PackageServer
from tests.edge.updater.rig import Rig


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_disk_too_small_for_the_update_is_refused_before_the_download(
        small_disk: Path, keys: Keys, base_model: Path, make_package: MakePackage,
        server: PackageServer):
    (small_disk / "ballast").write_bytes(bytes(6 * 1024 * 1024))
    rig = Rig(small_disk / "node", [keys.pub], base_model)
    updater = rig.boot()
    updater.handle(offer_for(server, make_package("1.2.0")))
    assert rig.states() == ["failed"]
    assert (rig.updates[0].reason or "").startswith("disk:")
    assert server.requests == []
    active = updater.active()
    assert active is not None and active.version == BASE_VERSION


def test_a_disk_that_fills_up_during_the_download_fails_the_update_cleanly(
        small_disk: Path, keys: Keys, base_model: Path, make_package: MakePackage,
        server: PackageServer):
    rig = Rig(small_disk / "node", [keys.pub], base_model, max_kbps=2000)
    package = make_package("1.2.0")
    updater = rig.start()
    try:
        rig.offer(offer_for(server, package))
        part = rig.data_dir / "updates" / f"{package.sha256}.part"
        rig.wait_for(lambda _: part.exists() and part.stat().st_size > 0)
        with (small_disk / "ballast").open("wb", buffering=0) as f:  # another program fills it
            try:
                while True:
                    f.write(bytes(64 * 1024))
            except OSError:
                pass
        final = rig.wait_final()
    finally:
        rig.stop()
    assert final.state == "failed"
    assert "No space left" in (final.reason or ""), final.reason
    assert not part.exists()
    active = updater.active()
    assert active is not None and active.version == BASE_VERSION
