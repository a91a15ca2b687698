"""A folder camera hands over complete photos once each: settled files oldest first, then moved
or deleted; a missing folder is a SourceError."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from agrifleet.edge.inference.camera_types.folder import FolderCamera, FolderSource
from agrifleet.edge.inference.sources import SourceError


def _folder(tmp_path: Path, **kw: object) -> FolderCamera:
    return FolderCamera.model_validate({"type": "folder", "name": "c", "path": tmp_path,
                                        "settle_s": 0, **kw})


def _age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_folder_lists_settled_images_oldest_first(tmp_path: Path) -> None:
    for name, age in (("b.jpg", 30), ("a.JPG", 60), ("c.png", 10), ("notes.txt", 90),
                      (".hidden.jpg", 90), ("fresh.jpg", 0)):
        (tmp_path / name).write_bytes(b"x")
        _age(tmp_path / name, age)
    source = FolderSource(_folder(tmp_path, settle_s=5))
    assert [p.name for p in source.ready()] == ["a.JPG", "b.jpg", "c.png"]


def test_empty_file_waits_for_the_camera_to_finish(tmp_path: Path) -> None:
    (tmp_path / "writing.jpg").write_bytes(b"")
    source = FolderSource(_folder(tmp_path))
    assert source.ready() == []
    _age(tmp_path / "writing.jpg", 3600)  # never finished: handed over, to be refused
    assert [p.name for p in source.ready()] == ["writing.jpg"]


def test_done_moves_without_overwriting_or_deletes(tmp_path: Path) -> None:
    source = FolderSource(_folder(tmp_path))
    for _ in range(2):
        (tmp_path / "leaf.jpg").write_bytes(b"x")
        source.done(tmp_path / "leaf.jpg")
    assert sorted(p.name for p in (tmp_path / "done").iterdir()) == ["leaf.1.jpg", "leaf.jpg"]
    deleting = FolderSource(_folder(tmp_path, after="delete"))
    (tmp_path / "leaf.jpg").write_bytes(b"x")
    deleting.done(tmp_path / "leaf.jpg")
    assert not (tmp_path / "leaf.jpg").exists()


def test_missing_folder_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        FolderSource(_folder(tmp_path / "nope")).ready()
