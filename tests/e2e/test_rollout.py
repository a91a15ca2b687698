"""Phased model rollouts over real agents (`agrifleet edge run` processes), a real broker, the
real fleet and real HTTP downloads: phases wait for the gate, the error limit lets one failed
self-test through and halts at the next, and a model that disagrees in shadow pauses the rollout.

The demo's agents run the shipped default model (their cameras name none): the package rolled
out is a copy of it with a version above the shipped one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from agrifleet.contract import Batch, ModelOffer, Update
from agrifleet.demo.local_fleet import LocalFleet, LocalFleetOptions
from agrifleet.models.shipped import DEFAULT_NAME, DEFAULT_VERSION, default_model_dir, models_root
from agrifleet.package import generate_keypair, sign_package
from agrifleet.provisioning.acl import FLEET_USER
from tests.base_model import newer_than_shipped
from tests.e2e.conftest import FAST_AGENT, wait_until
from tests.e2e.dropping_proxy import DroppingProxy
from tests.edge.updater.conftest import copy_model, edit_manifest, permute_labels
from tests.services import free_port

pytestmark = pytest.mark.slow  # phased rollouts over a whole fleet

#: The self-test of a node whose TFLite runtime is broken fails (as a bad interpreter build would).
BROKEN_RUNTIME = {"AGRIFLEET_TFLITE_RUNTIME": "broken-build"}

#: The version rolled out: newer than the shipped model the agents start with.
NEW = newer_than_shipped()
#: Every state but running.
STOPPED = ("paused", "halted", "completed", "aborted")


class Wire:
    """Listens as the fleet user to every offer and every update item, in arrival order."""

    def __init__(self, fleet: LocalFleet) -> None:
        self.events: list[tuple[str, str, Any]] = []  # (device, "offer"|"update", payload)
        self._lock = threading.Lock()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-wire")
        self._client.username_pw_set(FLEET_USER, fleet.users[FLEET_USER])
        self._client.on_connect = lambda c, *_: c.subscribe(
            [("agrifleet/+/model/offer", 1), ("agrifleet/+/messages", 1)])
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", fleet.mqtt_port)
        self._client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        device = msg.topic.split("/")[1]
        if msg.topic.endswith("/model/offer"):
            event: tuple[str, str, Any] = (
                device, "offer", ModelOffer.model_validate_json(msg.payload) if msg.payload
                else None)
            with self._lock:
                self.events.append(event)
            return
        batch = Batch.model_validate_json(msg.payload)
        with self._lock:
            self.events.extend((device, "update", i) for i in batch.items
                               if isinstance(i, Update))

    def first(self, device: str, kind: str, state: str | None = None) -> int | None:
        """Index of the first such event, or None."""
        with self._lock:
            for n, (d, k, p) in enumerate(self.events):
                if d == device and k == kind and p is not None and (
                        state is None or getattr(p, "state", None) == state):
                    return n
        return None

    def stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


class Photos:
    """Drops a leaf image into every agent's camera folder, over and over: the shipped model's
    self-test images, which it answers clearly (it calls generated drawings of leaves
    uncertain, and two models that both say uncertain agree)."""

    def __init__(self, fleet: LocalFleet) -> None:
        self._fleet = fleet
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        images = sorted((default_model_dir() / "selftest").glob("*.png"))
        n = 0
        while not self._stop.wait(0.5):
            for device in self._fleet.devices:
                folder = self._fleet.options.workdir / device / "camera"
                if len(list(folder.glob("*.png"))) < 3:
                    (folder / f"leaf-{n}.png").write_bytes(images[n % len(images)].read_bytes())
            n += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def signing(tmp_path: Path) -> tuple[Path, Path]:
    return generate_keypair(tmp_path / "keys")


@pytest.fixture
def rollout_fleet(tmp_path: Path, signing: tuple[Path, Path],
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Start a fleet with n agents that take offers; yields a function(n) → LocalFleet."""
    started: list[LocalFleet] = []

    def make(agents: int, broken: tuple[str, ...] = (), camera_model: Path | None = None,
             updates_extra: str = "", public_url: str | None = None,
             port: int | None = None) -> LocalFleet:
        port = port or free_port()
        monkeypatch.setenv("AGRIFLEET_MODEL_KEYS", str(signing[1]))
        monkeypatch.setenv("AGRIFLEET_PUBLIC_URL", public_url or f"http://127.0.0.1:{port}")
        monkeypatch.setenv("AGRIFLEET_DATA_DIR", str(tmp_path / "fleet-data"))
        monkeypatch.setenv("AGRIFLEET_ROLLOUT_TICK_S", "0.5")
        updates = f"""
[updates]
trusted_keys = ["{signing[1]}"]
retry_min_s = 0.2
retry_max_s = 1.0
{updates_extra}
"""
        # Lines before the first section header belong to the agents' [[cameras]] table.
        camera = f'model = "{camera_model}"\n' if camera_model else ""
        fleet = LocalFleet(LocalFleetOptions(
            workdir=tmp_path / "fleet", port=port, agents=agents, broker="mosquitto",
            feed_images=False, sensor_interval_s=30,
            agent_extra_toml=camera + FAST_AGENT + updates))
        started.append(fleet)
        fleet.start()
        for device in broken:  # restart these agents with a broken TFLite runtime
            fleet.stop_agent(device)
            config = fleet.options.workdir / device / "agent.toml"
            with (config.parent / "agent.log").open("ab") as log_file:
                fleet.agents[device] = subprocess.Popen(
                    [sys.executable, "-m", "agrifleet", "edge", "run", "--config", str(config)],
                    stdout=log_file, stderr=log_file, env={**os.environ, **BROKEN_RUNTIME})
        monkeypatch.setenv("AGRIFLEET_FLEET_URL", fleet.api_url)
        monkeypatch.setenv("AGRIFLEET_TOKEN", fleet.token)
        return fleet

    yield make
    for fleet in started:
        fleet.stop()


def package(tmp_path: Path, version: str, signing: tuple[Path, Path], *,
            worse: bool = False) -> Path:
    pkg = copy_model(default_model_dir(), tmp_path / "packages" / version)
    edit_manifest(pkg, version=version)
    if worse:
        permute_labels(pkg)
    sign_package(pkg, signing[0], expires_days=30)
    return pkg


def cli(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "agrifleet", *args], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"agrifleet {' '.join(args)}: {done.stderr or done.stdout}"
    return done.stdout.strip()


def status(rollout: str) -> dict[str, Any]:
    return dict(json.loads(cli("rollout", "status", rollout, "--json")))


def settled(fleet: LocalFleet, rollout: str, done: tuple[str, ...], timeout: float,
            what: str) -> dict[str, Any]:
    """The rollout's status from ``agrifleet rollout status`` once its state is one of
    ``done``; meanwhile watched over the API (a CLI process each half second would take a
    good part of a core from the agents and the fleet under test)."""
    wait_until(lambda: json.loads(_get(fleet, f"/rollouts/{rollout}"))["state"] in done,
               timeout, what)
    return status(rollout)


def devices(rollout: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["device_id"]: d for d in rollout["devices"]}


def _online(fleet: LocalFleet) -> None:
    def all_report_model() -> bool:
        for device in fleet.devices:
            detail = json.loads(_get(fleet, f"/devices/{device}"))
            if not detail.get("model"):
                return False
        return True

    wait_until(all_report_model, 90, "every agent to report its model")


def _get(fleet: LocalFleet, path: str) -> bytes:
    import urllib.request

    request = urllib.request.Request(  # noqa: S310 - the test's own fleet
        f"{fleet.api_url}/api/v1{path}", headers={"Authorization": f"Bearer {fleet.token}"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return bytes(response.read())


def test_a_phased_rollout_waits_for_each_phase_lets_one_failure_through_and_halts_at_the_next(
        rollout_fleet: Any, tmp_path: Path, signing: tuple[Path, Path]):
    # 10 agents; phases 10/40/100 % → field-01 | field-02..04 | field-05..10. field-02 (phase 2)
    # and field-07 (phase 3) fail their self-test; at most 1 failure is allowed.
    fleet = rollout_fleet(10, broken=("field-02", "field-07"))
    _online(fleet)
    cli("model", "publish", str(package(tmp_path, NEW, signing)))
    wire = Wire(fleet)
    photos = Photos(fleet)
    try:
        rollout = cli("rollout", "start", "--model", "leaf-disease", "--version", NEW,
                      "--all", "--phases", "10,40,100", "--max-failures", "1",
                      "--shadow-images", "2")
        final = settled(fleet, rollout, ("halted", "completed"), 300, "the rollout to halt")
    finally:
        photos.stop()
        wire.stop()
    assert final["state"] == "halted", final
    by_id = devices(final)
    assert by_id["field-01"]["state"] == "active"
    for broken in ("field-02", "field-07"):
        assert by_id[broken]["state"] == "failed"
        assert "selftest_failed" in (by_id[broken]["reason"] or "")
    for good in ("field-03", "field-04"):
        assert by_id[good]["state"] == "active", by_id[good]
    assert any(by_id[d]["state"] != "pending" for d in ("field-05", "field-06", "field-08"))

    # devices in a later phase were offered only after the earlier phase passed its gate
    first_done = wire.first("field-01", "update", "active")
    assert first_done is not None
    for later in ("field-02", "field-03", "field-04"):
        offered = wire.first(later, "offer")
        assert offered is not None and offered > first_done, later
    phase2_done = max(wire.first(d, "update", s) or -1 for d, s in
                      (("field-02", "failed"), ("field-03", "active"), ("field-04", "active")))
    for later in ("field-05", "field-06", "field-08", "field-09", "field-10"):
        offered = wire.first(later, "offer")
        assert offered is None or offered > phase2_done, later
    # the fleet shows each updated node's active model
    detail = json.loads(_get(fleet, "/devices/field-01"))
    assert detail["model"]["version"] == NEW and len(detail["model"]["sha256"]) == 64
    assert json.loads(_get(fleet, "/devices/field-02"))["model"]["version"] == DEFAULT_VERSION


def test_a_model_that_disagrees_in_shadow_pauses_the_rollout_with_the_reason(
        rollout_fleet: Any, tmp_path: Path, signing: tuple[Path, Path]):
    fleet = rollout_fleet(2)
    _online(fleet)
    cli("model", "publish", str(package(tmp_path, NEW, signing, worse=True)))
    photos = Photos(fleet)
    try:
        rollout = cli("rollout", "start", "--model", "leaf-disease", "--version", NEW,
                      "--all", "--phases", "50,100", "--shadow-images", "3",
                      "--min-agreement", "0.9")
        final = settled(fleet, rollout, STOPPED, 240,
                        "the rollout to stop")
    finally:
        photos.stop()
    assert final["state"] == "paused", final
    assert "agreement" in (final.get("reason") or ""), final.get("reason")
    first = devices(final)["field-01"]
    assert first["state"] == "failed" and first["gate"]["agreement"] < 0.9
    assert devices(final)["field-02"]["state"] == "pending", "the next phase waits"
    assert json.loads(_get(fleet, "/devices/field-01"))["model"]["version"] == DEFAULT_VERSION


def test_nodes_move_from_the_previous_model_to_the_shipped_one_over_a_capped_link_that_drops(
        rollout_fleet: Any, tmp_path: Path, signing: tuple[Path, Path]):
    """The upgrade a farm makes: nodes on 2.0.0 take the shipped default (3.0.0, about three
    times larger) with a bandwidth cap, and a download that the link cuts mid-way resumes."""
    previous = models_root() / DEFAULT_NAME / "2.0.0"
    assert DEFAULT_VERSION != "2.0.0", "the shipped default is the upgrade"
    package_dir = copy_model(default_model_dir(), tmp_path / "packages" / DEFAULT_VERSION)
    sign_package(package_dir, signing[0], expires_days=30)
    size = (package_dir / "model.tflite").stat().st_size
    assert size > 2 * (previous / "model.tflite").stat().st_size
    fleet_port = free_port()
    proxy = DroppingProxy(fleet_port, drop_after=size // 3)
    try:
        fleet = rollout_fleet(2, camera_model=previous, updates_extra="max_kbps = 16000",
                              public_url=proxy.url, port=fleet_port)
        _online(fleet)
        for device in fleet.devices:
            assert json.loads(_get(fleet, f"/devices/{device}"))["model"]["version"] == "2.0.0"
        cli("model", "publish", str(package_dir))
        photos = Photos(fleet)
        try:
            rollout = cli("rollout", "start", "--model", DEFAULT_NAME, "--version",
                          DEFAULT_VERSION, "--all", "--phases", "100", "--shadow-images", "2")
            final = settled(fleet, rollout, STOPPED, 300,
                            "the rollout to finish")
        finally:
            photos.stop()
    finally:
        proxy.stop()
    assert final["state"] == "completed", final
    for device in fleet.devices:
        model = json.loads(_get(fleet, f"/devices/{device}"))["model"]
        assert model["version"] == DEFAULT_VERSION, (device, model)
    assert proxy.drops >= 1, "the link was cut once"
    assert proxy.ranged(), "the cut download resumed with a Range request"
