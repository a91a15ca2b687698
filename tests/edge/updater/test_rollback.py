"""The node keeps or goes back to the model it had when the new one misses the shadow gate, does
not load, or the agent keeps restarting without confirming it (a crash loop after a switch)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agrifleet.contract import GateLimits, ModelOffer
from agrifleet.edge.updater.state import StateFile
from agrifleet.inference.classifier import Classifier
from tests.base_model import BASE_VERSION
from tests.edge.updater.conftest import Keys, MakePackage, offer_for, permute_labels
from tests.edge.updater.package_server import PackageServer
from tests.edge.updater.rig import Rig


@pytest.fixture
def rig(tmp_path: Path, keys: Keys, base_model: Path) -> Iterator[Rig]:
    rig = Rig(tmp_path / "node", [keys.pub], base_model, max_trial_starts=2)
    yield rig
    rig.stop()


def _switched(rig: Rig, make_package: MakePackage, server: PackageServer) -> ModelOffer:
    """Install 1.2.0 up to the switch, without the classification that would confirm it."""
    updater = rig.boot()
    offer = offer_for(server, make_package("1.2.0"))
    updater.handle(offer)
    assert StateFile(rig.data_dir / "updates").load().trial is not None
    return offer


def test_a_model_below_the_agreement_limit_is_not_switched_to_and_the_gate_figures_say_why(
        rig: Rig, make_package: MakePackage, server: PackageServer):
    worse = make_package("1.2.0", edit=permute_labels)
    rig.start()
    rig.offer(offer_for(server, worse, shadow_images=4,
                        limits=GateLimits(min_agreement=0.9)))

    final = rig.wait_final(feed_photos=True)

    assert final.state == "failed"
    assert final.gate is not None and final.gate.images == 4
    assert final.gate.agreement < 0.9
    assert final.reason is not None and "agreement" in final.reason and "0.9" in final.reason
    assert final.active is not None and final.active.version == BASE_VERSION
    assert rig.slot.view().model_dir is None and rig.slot.view().candidate_dir is None
    assert rig.models_on_disk() == []
    rig.photo()
    assert rig.worker is not None and rig.worker.classifier.manifest.version == BASE_VERSION


def test_a_crash_loop_after_a_switch_rolls_back_to_the_previous_model(
        rig: Rig, make_package: MakePackage, server: PackageServer, base_model: Path):
    offer = _switched(rig, make_package, server)
    for _ in range(rig.config.max_trial_starts - 1):  # restarts that die before confirming
        rig.boot()
        assert rig.slot.view().model_dir == rig.data_dir / "models/leaf-disease/1.2.0"
    assert "rolled_back" not in rig.states()

    updater = rig.boot()  # one start too many

    (rolled,) = [u for u in rig.updates if u.state == "rolled_back"]
    assert rolled.version == "1.2.0" and rolled.reason is not None
    assert "crash loop" in rolled.reason
    assert rolled.active is not None and rolled.active.version == BASE_VERSION
    assert rig.slot.view().model_dir is None
    assert updater.active() is not None and updater.active().version == BASE_VERSION  # type: ignore[union-attr]
    state = StateFile(rig.data_dir / "updates").load()
    assert state.current is None and state.trial is None
    assert state.last is not None and state.last.state == "rolled_back"
    # the retained offer of the rolled-back version is not installed again
    requests = len(server.requests)
    updater.handle(offer)
    assert len(server.requests) == requests and rig.states()[-1] == "rolled_back"


def test_a_confirmed_switch_survives_restarts(rig: Rig, make_package: MakePackage,
                                             server: PackageServer):
    _switched(rig, make_package, server)
    rig.boot()
    rig.photo()  # the first classification with 1.2.0 confirms it
    assert rig.states()[-1] == "active"
    for _ in range(rig.config.max_trial_starts + 1):
        updater = rig.boot()
    assert updater.active() is not None and updater.active().version == "1.2.0"  # type: ignore[union-attr]
    assert "rolled_back" not in rig.states()


def test_a_damaged_current_model_at_start_sends_the_node_back_to_the_previous_one(
        rig: Rig, make_package: MakePackage, server: PackageServer):
    _switched(rig, make_package, server)
    model = rig.data_dir / "models/leaf-disease/1.2.0/model.tflite"
    model.write_bytes(model.read_bytes()[:1000])  # a half-written or rotted file

    rig.boot()

    assert rig.states()[-1] == "rolled_back"
    assert "damaged" in (rig.updates[-1].reason or "")
    assert rig.slot.view().model_dir is None
    rig.photo()
    assert rig.worker is not None and rig.worker.classifier.manifest.version == BASE_VERSION


def test_a_model_that_fails_to_load_in_the_camera_is_rolled_back(
        rig: Rig, make_package: MakePackage, server: PackageServer, base_model: Path):
    _switched(rig, make_package, server)
    rig.boot()
    Classifier.load(rig.data_dir / "models/leaf-disease/1.2.0")  # it loads now
    model = rig.data_dir / "models/leaf-disease/1.2.0/model.tflite"
    model.write_bytes(b"\0" * model.stat().st_size)  # damaged after the start check

    rig.photo()  # the worker cannot load it, keeps its configured model, reports it

    assert rig.states()[-1] == "rolled_back"
    assert "failed to load" in (rig.updates[-1].reason or "")
    assert rig.slot.view().model_dir is None
    rig.photo()
    assert rig.worker is not None and rig.worker.classifier.manifest.version == BASE_VERSION


def test_a_start_removes_what_a_killed_update_left_behind(
        rig: Rig, make_package: MakePackage, server: PackageServer):
    updates = rig.data_dir / "updates"
    (updates / "staging-0123456789abcdef" / "selftest").mkdir(parents=True)
    (updates / ("a" * 64 + ".part")).write_bytes(b"partial")
    (rig.data_dir / "models" / "leaf-disease" / "1.9.0").mkdir(parents=True)
    rig.boot()
    assert sorted(p.name for p in updates.iterdir()) == []
    assert rig.models_on_disk() == []


def test_a_switch_on_a_node_without_photos_is_confirmed_by_uptime(
        tmp_path: Path, keys: Keys, base_model: Path, make_package: MakePackage,
        server: PackageServer):
    rig = Rig(tmp_path / "quiet", [keys.pub], base_model, confirm_after_s=0.2)
    rig.start()
    try:
        rig.offer(offer_for(server, make_package("1.2.0")))
        final = rig.wait_final()  # no photo is ever classified
    finally:
        rig.stop()
    assert final.state == "active" and final.version == "1.2.0"


def test_a_new_offer_replaces_the_one_under_way(
        tmp_path: Path, keys: Keys, base_model: Path, make_package: MakePackage,
        server: PackageServer):
    rig = Rig(tmp_path / "node2", [keys.pub], base_model, max_kbps=800)
    slow = make_package("1.2.0")
    rig.start()
    try:
        rig.offer(offer_for(server, slow, rollout_id=1))
        part = rig.data_dir / "updates" / f"{slow.sha256}.part"
        rig.wait_for(lambda _: part.exists() and part.stat().st_size > 0)
        rig.config.max_kbps = None  # the next download at full speed
        newer = make_package("1.3.0")
        rig.offer(offer_for(server, newer, rollout_id=2))
        final = rig.wait_final(feed_photos=True)
    finally:
        rig.stop()
    assert (final.state, final.rollout_id, final.version) == ("active", 2, "1.3.0")
    assert not part.exists()
    assert not any(u.rollout_id == 1 and u.state == "failed" for u in rig.updates)
    assert rig.models_on_disk() == ["leaf-disease/1.3.0"]


def test_a_node_without_cameras_skips_the_shadow_period_unless_the_offer_sets_limits(
        tmp_path: Path, keys: Keys, base_model: Path, make_package: MakePackage,
        server: PackageServer):
    from agrifleet.edge.updater import Updater

    rig = Rig(tmp_path / "blind", [keys.pub], base_model)
    rig.boot()
    updater = Updater(rig.config, rig.data_dir, rig.emit, rig.slot, base_model, cameras=False)
    updater.boot()
    package = make_package("1.2.0")
    updater.handle(offer_for(server, package, rollout_id=1, shadow_images=5,
                             limits=GateLimits(min_agreement=0.9)))
    assert rig.updates[-1].state == "failed"
    assert "no camera" in (rig.updates[-1].reason or "")
    updater.handle(offer_for(server, package, rollout_id=2, shadow_images=5))
    assert StateFile(rig.data_dir / "updates").load().trial is not None, "switched, in trial"


def test_a_final_report_lost_in_a_crash_is_sent_again_when_the_offer_comes_back(
        rig: Rig, make_package: MakePackage, server: PackageServer):
    """The agent saved the rollback, then died before the report reached the outbox: the
    fleet, which never had it, still offers the version; the next start reports it once."""
    offer = _switched(rig, make_package, server)
    for _ in range(rig.config.max_trial_starts):  # the last start rolls back
        rig.boot()
    (rolled,) = [u for u in rig.updates if u.state == "rolled_back"]
    rig.updates.clear()  # the report never reached the outbox

    updater = rig.boot()
    requests = len(server.requests)
    updater.handle(offer)  # the retained offer, delivered again at the new start
    updater.handle(offer)  # and once more (a reconnect): reported once per start

    (again,) = rig.updates
    assert (again.state, again.version, again.reason) == ("rolled_back", "1.2.0", rolled.reason)
    assert again.active is not None and again.active.version == BASE_VERSION
    assert len(server.requests) == requests  # nothing downloaded or installed again


def test_a_confirmed_switch_lost_in_a_crash_is_reported_active_again(
        rig: Rig, make_package: MakePackage, server: PackageServer):
    offer = _switched(rig, make_package, server)
    rig.boot()
    rig.photo()  # confirms 1.2.0
    assert rig.states()[-1] == "active"
    rig.updates.clear()  # as if the agent died before the report was in the outbox

    rig.boot().handle(offer)

    assert rig.states() == ["active"]
    assert rig.updates[0].active is not None and rig.updates[0].active.version == "1.2.0"
