"""Publishing under load: each upload unpacks into a folder of its own, so two identical
publishes at once (a client's retry after a timeout) both get the one package, a repeat
answers as the first did, and a fleet process starting beside another never deletes the
other's upload in progress."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agrifleet.fleet.modelops.registry.storage import PackageStore
from tests.fleet.modelops.registry.conftest import Keys, Registry
from tests.fleet.modelops.registry.packages import archive, package_dir


def test_two_identical_publishes_at_once_both_get_the_one_package(
        registry: Registry, keys: Keys, tmp_path: Path) -> None:
    data = archive(package_dir(tmp_path / "p", "1.2.0", keys.key))
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: registry.publish(data), range(2)))
    assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
    assert answers[0].json() == answers[1].json()
    again = registry.publish(data)  # the client's retry after a timeout
    assert again.status_code == 200 and again.json() == answers[0].json()
    assert [m["version"] for m in registry.fleet.get("/api/v1/models")] == ["1.2.0"]
    incoming = registry.data_dir / "models" / ".incoming"
    assert not incoming.exists() or list(incoming.iterdir()) == []  # nothing left behind


def test_each_upload_has_its_own_folder_and_a_start_spares_uploads_in_progress(
        tmp_path: Path) -> None:
    store = PackageStore(tmp_path)
    first, second = store.new_upload(), store.new_upload()
    assert first != second and first.parent == second.parent == store.incoming
    (first / "package.tar.gz").write_bytes(b"in progress")
    dead = store.new_upload()
    (dead / "package.tar.gz").write_bytes(b"half")
    hours_ago = time.time() - 7 * 3600
    os.utime(dead / "package.tar.gz", (hours_ago, hours_ago))
    os.utime(dead, (hours_ago, hours_ago))
    store.clean_incoming()  # another fleet process starting on the same data directory
    assert (first / "package.tar.gz").read_bytes() == b"in progress" and second.is_dir()
    assert not dead.exists()
