"""A running agent with [updates] takes a retained offer from the broker, installs it and reports
every step through its durable outbox, and its status shows the new model and the kept one; an
agent without [updates] ignores offers and its status says it takes none (`takes_offers`)."""

from __future__ import annotations

from pathlib import Path

import paho.mqtt.client as mqtt

from agrifleet.contract import ModelOffer, Status, Update, offer_topic
from agrifleet.edge.agent import Agent
from agrifleet.models.shipped import DEFAULT_VERSION
from tests.agrifleet.inference.conftest import leaf_jpeg
from tests.base_model import BASE_MODEL_DIR, BASE_VERSION, newer_than_shipped
from tests.edge.conftest import MakeConfig, running
from tests.edge.fleet_acker import FleetAcker, wait_until
from tests.edge.updater.conftest import Keys, MakePackage, offer_for
from tests.edge.updater.package_server import PackageServer
from tests.services import Broker


def publish_offer(broker: Broker, device: str, offer: ModelOffer | None) -> None:
    """Publish (or withdraw) the retained offer as the fleet does."""
    from urllib.parse import urlsplit

    url = urlsplit(broker.fleet_url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-rollouts")
    client.username_pw_set(url.username, url.password)
    client.connect(url.hostname or "127.0.0.1", url.port or 1883)
    client.loop_start()
    payload = b"" if offer is None else offer.model_dump_json().encode()
    info = client.publish(offer_topic("agrifleet", device), payload, qos=1, retain=True)
    info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def _camera(tmp_path: Path, model: Path | None = BASE_MODEL_DIR) -> tuple[Path, dict[str, object]]:
    """A folder camera on the base model (the packages offered are newer than it), or with
    ``model=None`` on the shipped default as out of the box."""
    photos = tmp_path / "photos"
    photos.mkdir()
    camera: dict[str, object] = {"type": "folder", "name": "leafcam", "path": str(photos),
                                 "poll_s": 0.1, "settle_s": 0, "report_healthy": True}
    if model is not None:
        camera["model"] = str(model)
    return photos, camera


def _updates(fleet: FleetAcker) -> list[Update]:
    return [i for i in fleet.items() if isinstance(i, Update)]


def _last_status(fleet: FleetAcker) -> Status | None:
    with_health = [s for s in fleet.statuses if s.health is not None]
    return with_health[-1] if with_health else None


def test_an_agent_installs_an_offered_model_and_reports_it_through_the_outbox(
        broker: Broker, fleet: FleetAcker, make_config: MakeConfig, tmp_path: Path, keys: Keys,
        make_package: MakePackage, server: PackageServer):
    photos, camera = _camera(tmp_path)
    config = make_config(broker.add_device("field-07"), cameras=[camera],
                         updates={"trusted_keys": [str(keys.pub)]})
    offer = offer_for(server, make_package("1.2.0"), rollout_id=7, shadow_images=2)
    publish_offer(broker, "field-07", offer)  # retained: waiting before the node starts
    n = 0

    def photo() -> None:
        nonlocal n
        (photos / f"leaf-{n}.jpg").write_bytes(leaf_jpeg(seed=n))
        n += 1

    with running(Agent(config, boot_id="boot-1")):
        def active() -> bool:
            photo()
            return any(u.state == "active" for u in _updates(fleet))

        wait_until(active, timeout=60, what="the update to be active")
        wait_until(lambda: (s := _last_status(fleet)) is not None and s.health is not None
                   and s.health.model is not None and s.health.model.version == "1.2.0",
                   what="a status with the new model")
    states = [u.state for u in _updates(fleet)]
    assert states[0] == "downloading" and states[-1] == "active"
    assert {"verifying", "selftest", "shadow"} <= set(states)
    assert all(u.rollout_id == 7 for u in _updates(fleet))
    status = _last_status(fleet)
    assert status is not None and status.health is not None
    assert status.health.previous_model is not None
    assert status.health.previous_model.version == BASE_VERSION
    assert status.health.takes_offers is True
    assert (tmp_path / "field-07" / "models" / "leaf-disease" / "1.2.0" / "model.tflite").is_file()


def test_an_agent_without_updates_ignores_offers_and_says_so(
        broker: Broker, fleet: FleetAcker, make_config: MakeConfig, tmp_path: Path,
        make_package: MakePackage, server: PackageServer):
    photos, camera = _camera(tmp_path, model=None)  # the shipped model, out of the box
    config = make_config(broker.add_device("field-08"), device_id="field-08", cameras=[camera])
    publish_offer(broker, "field-08", offer_for(server, make_package(newer_than_shipped())))
    with running(Agent(config, boot_id="boot-1")):
        (photos / "leaf.jpg").write_bytes(leaf_jpeg())
        wait_until(lambda: any(i.kind == "detection" for i in fleet.items()), what="a detection")
        wait_until(lambda: _last_status(fleet) is not None, what="a status")
    assert _updates(fleet) == []
    assert server.requests == []
    status = _last_status(fleet)
    assert status is not None and status.health is not None and status.health.model is not None
    assert status.health.model.version == DEFAULT_VERSION and status.health.previous_model is None
    assert status.health.takes_offers is False  # the fleet shows it as not taking offers


def test_the_fleet_learns_the_outcome_of_an_update_made_while_it_was_down(
        broker: Broker, make_config: MakeConfig, tmp_path: Path, keys: Keys,
        make_package: MakePackage, server: PackageServer):
    from agrifleet.edge.updater.state import StateFile

    photos, camera = _camera(tmp_path)
    config = make_config(broker.add_device("field-09"), device_id="field-09", cameras=[camera],
                         updates={"trusted_keys": [str(keys.pub)]})
    publish_offer(broker, "field-09", offer_for(server, make_package("1.2.0"), rollout_id=4))
    state = StateFile(tmp_path / "field-09" / "updates")
    with running(Agent(config, boot_id="boot-1")):  # no fleet is listening
        def done() -> bool:
            (photos / f"leaf-{len(list(photos.iterdir()))}.jpg").write_bytes(leaf_jpeg())
            last = state.load().last
            return last is not None and last.state == "active"

        wait_until(done, timeout=60, what="the update to finish on the node")
        fleet = FleetAcker(broker.fleet_url).start()  # the fleet comes back
        try:
            wait_until(lambda: any(u.state == "active" for u in _updates(fleet)), timeout=30,
                       what="the outcome at the fleet")
        finally:
            fleet.stop()
    states = [u.state for u in _updates(fleet)]
    assert states[0] == "downloading" and "selftest" in states and states[-1] == "active"
