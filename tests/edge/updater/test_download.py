"""A package download survives a dropped link by resuming with Range (bytes served counted), a
withdrawn offer stops it cleanly, and a refusing server fails it with the reason."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from agrifleet.edge.updater import download
from agrifleet.edge.updater.state import Job, StateFile, UpdaterState
from tests.base_model import BASE_VERSION
from tests.edge.updater.conftest import Keys, MakePackage, offer_for
from tests.edge.updater.package_server import TOKEN, PackageServer
from tests.edge.updater.rig import Rig


@pytest.fixture
def rig(tmp_path: Path, keys: Keys, base_model: Path) -> Iterator[Rig]:
    rig = Rig(tmp_path / "node", [keys.pub], base_model)
    yield rig
    rig.stop()


def test_an_interrupted_download_resumes_without_fetching_the_whole_file_again(
        rig: Rig, make_package: MakePackage, server: PackageServer):
    package = make_package("1.2.0")
    third = package.size // 3
    server.drops = [third, third]  # the link drops twice, a third of the way each time
    rig.start()
    rig.offer(offer_for(server, package))

    final = rig.wait_final(feed_photos=True)

    assert final.state == "active", final.reason
    ranges = [r for _, r in server.requests]
    assert ranges[:3] == [None, f"bytes={third}-", f"bytes={2 * third}-"]
    assert server.bytes_served == package.size, "no byte was fetched twice"
    progress = [u for u in rig.updates if u.state == "downloading"]
    assert progress[0].bytes_done == 0 and progress[-1].bytes_done == package.size
    assert all(u.bytes_total == package.size for u in progress)
    assert len(progress) <= 8, "progress is reported sparingly"


def test_a_partial_download_left_by_a_killed_node_is_resumed_after_a_restart(
        rig: Rig, make_package: MakePackage, server: PackageServer):
    package = make_package("1.2.0")
    offer = offer_for(server, package)
    part = rig.data_dir / "updates" / f"{package.sha256}.part"
    part.parent.mkdir(parents=True)
    half = package.size // 2
    part.write_bytes(package.archive.read_bytes()[:half])
    StateFile(rig.data_dir / "updates").save(UpdaterState(job=Job(offer=offer)))
    state = StateFile(rig.data_dir / "updates").load()
    assert state.job is not None
    rig.start()
    rig.offer(offer)  # the broker hands the retained offer over at reconnect

    assert rig.wait_final(feed_photos=True).state == "active"
    assert server.requests[0][1] == f"bytes={half}-"
    assert server.bytes_served == package.size - half


def test_a_withdrawn_offer_stops_the_download_and_removes_the_partial_file(
        tmp_path: Path, keys: Keys, base_model: Path, make_package: MakePackage,
        server: PackageServer):
    rig = Rig(tmp_path / "slow", [keys.pub], base_model, max_kbps=800)  # 100 kB/s
    package = make_package("1.2.0")
    updater = rig.start()
    try:
        rig.offer(offer_for(server, package))
        part = rig.data_dir / "updates" / f"{package.sha256}.part"
        rig.wait_for(lambda _: part.exists() and part.stat().st_size > 0)
        rig.offer(None)
        rig.wait_for(lambda _: not part.exists())
        state = StateFile(rig.data_dir / "updates").load()
        assert state.job is None and state.current is None
        assert not any(u.state in ("verifying", "failed", "active") for u in rig.updates)
        assert updater.active() is not None and updater.active().version == BASE_VERSION  # type: ignore[union-attr]
    finally:
        rig.stop()


def test_a_download_the_fleet_refuses_fails_with_the_http_status(
        rig: Rig, make_package: MakePackage, server: PackageServer):
    package = make_package("1.2.0")
    offer = offer_for(server, package).model_copy(update={"token": "w" * 32})
    rig.start()
    rig.offer(offer)
    final = rig.wait_final()
    assert final.state == "failed"
    assert final.reason is not None and "401" in final.reason
    assert TOKEN not in final.reason and "w" * 32 not in final.reason


def test_a_redirect_is_not_followed_so_the_token_goes_nowhere_else(
        rig: Rig, make_package: MakePackage, server: PackageServer):
    package = make_package("1.2.0")
    offer = offer_for(server, package)
    server.redirects[urlsplit(offer.url).path] = server.url("/elsewhere")
    rig.start()
    rig.offer(offer)
    final = rig.wait_final()
    assert final.state == "failed" and "redirect" in (final.reason or "")
    assert [path for path, _ in server.requests] == [urlsplit(offer.url).path]


def test_an_https_fleet_with_a_private_ca_needs_the_ca_file(
        tmp_path: Path, keys: Keys, base_model: Path, make_package: MakePackage):
    from agrifleet.provisioning.tls import make_broker_certificates
    from tests.edge.updater.package_server import package_server

    tls = make_broker_certificates(tmp_path / "tls", hosts=("127.0.0.1",))
    package = make_package("1.2.0")
    with package_server(tls) as https:
        plain = Rig(tmp_path / "no-ca", [keys.pub], base_model)
        plain.boot().handle(offer_for(https, package))
        assert plain.states() == ["downloading", "failed"]
        assert "ca_file" in (plain.updates[-1].reason or "")
        trusting = Rig(tmp_path / "ca", [keys.pub], base_model, ca_file=tls.ca_file)
        trusting.boot().handle(offer_for(https, package))
        assert trusting.states()[-1] not in ("failed", "rolled_back"), trusting.updates[-1]
        assert https.bytes_served == package.size


def test_the_bandwidth_cap_paces_the_download(tmp_path: Path, make_package: MakePackage,
                                             server: PackageServer):
    package = make_package("1.2.0")
    offer = offer_for(server, package)
    part = tmp_path / "pkg.part"
    seen: list[int] = []
    cancel = threading.Event()

    def progress(n: int) -> None:  # cancel once 64 kB have arrived at 80 kbit/s (~6 s)
        seen.append(n)
        if n >= 64 * 1024:
            cancel.set()

    req = download.Request(offer.url, offer.token, offer.size, offer.sha256, max_kbps=80)
    import time

    started = time.monotonic()
    with pytest.raises(download.DownloadCancelled):
        download.fetch_once(req, part, cancel, progress)
    paced = seen[-1] - download.CHUNK  # the sleep after the last chunk is cut short by cancel
    assert time.monotonic() - started >= paced * 8 / 80_000 * 0.9, "a lower bound only"


def test_a_damaged_partial_file_is_fetched_again_once_then_installed(
        rig: Rig, make_package: MakePackage, server: PackageServer):
    package = make_package("1.2.0")
    offer = offer_for(server, package)
    part = rig.data_dir / "updates" / f"{package.sha256}.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(bytes(package.size // 2))  # zeros where data should be (a power cut)
    StateFile(rig.data_dir / "updates").save(UpdaterState(job=Job(offer=offer)))
    rig.start()
    rig.offer(offer)
    assert rig.wait_final(feed_photos=True).state == "active"
    assert [r for _, r in server.requests] == [f"bytes={package.size // 2}-", None]
