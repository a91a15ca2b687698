"""Real small file systems for outbox tests: a tmpfs to fill up, an ext4 card that wears out.

Both need root (mount); a test that cannot mount is skipped with the reason.
"""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def _mount_or_skip(*argv: str) -> None:
    done = _run("mount", *argv)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a test file system ({done.stderr.strip() or 'mount failed'})")


@contextmanager
def tmpfs(folder: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``folder`` for the block."""
    folder.mkdir(parents=True, exist_ok=True)
    _mount_or_skip("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    try:
        yield folder
    finally:
        _run("umount", "-l", str(folder))


def fill(folder: Path) -> Path:
    """Write a file until the file system has no byte left; return it (delete it to free)."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as f:
        chunk = b"\0" * 4096
        try:
            while True:
                f.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
        try:
            while True:
                f.write(b"\0")
        except OSError:
            pass
    return filler


class Card:
    """An ext4 image on a loop device, mounted ``errors=remount-ro`` like a node's SD card."""

    def __init__(self, image: Path, folder: Path) -> None:
        self.image = image
        self.folder = folder

    def mount(self) -> None:
        _mount_or_skip("-o", "loop,errors=remount-ro", str(self.image), str(self.folder))

    def wear_out(self) -> None:
        """What a failing card does: the kernel forces the file system read-only under us."""
        device = _run("findmnt", "-no", "SOURCE", str(self.folder)).stdout.strip()
        trigger = Path("/sys/fs/ext4") / Path(device).name / "trigger_fs_error"
        if not trigger.exists():
            pytest.skip(f"{trigger} not available: cannot fail an ext4 file system on purpose")
        trigger.write_text("test: the card wore out\n")
        try:
            (self.folder / "probe").write_bytes(b"x")
        except OSError as exc:
            assert exc.errno == errno.EROFS, exc
        else:
            raise AssertionError("the card still takes writes")

    def replace(self) -> None:
        """Take the failed card out and put a repaired one in (the old open files stay dead)."""
        _run("umount", "-l", str(self.folder))
        repaired = self.image.with_name(self.image.name + ".new")
        _run("cp", "--sparse=always", str(self.image), str(repaired))  # a new loop device
        _run("e2fsck", "-fy", str(repaired))
        self.image = repaired
        self.mount()


@contextmanager
def card(tmp_path: Path, size: str = "16M") -> Iterator[Card]:
    image = tmp_path / "card.img"
    folder = tmp_path / "card"
    folder.mkdir()
    if _run("truncate", "-s", size, str(image)).returncode != 0 or \
            _run("mkfs.ext4", "-q", "-F", str(image)).returncode != 0:
        pytest.skip("mkfs.ext4 is not available")
    sd = Card(image, folder)
    sd.mount()
    try:
        yield sd
    finally:
        _run("umount", "-l", str(folder))
