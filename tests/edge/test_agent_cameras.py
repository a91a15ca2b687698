"""The agent runs the configured cameras' inference workers and forwards what they emit."""

from __future__ import annotations

from agrifleet.contract import Event
from agrifleet.edge.agent import Agent
from tests.edge.conftest import running
from tests.edge.fleet_acker import wait_until


def test_a_camera_with_an_unusable_model_raises_an_alert_at_the_fleet(broker, fleet, make_config,
                                                                      tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    config = make_config(
        broker.add_device("field-07"),
        cameras=[{"type": "folder", "name": "leafcam", "path": str(photos),
                  "model": str(tmp_path / "no-such-model"), "poll_s": 0.1}],
    )
    with running(Agent(config, boot_id="boot-1")):
        wait_until(lambda: any(isinstance(i, Event) for i in fleet.items()), what="alert")
    (alert,) = [i for i in fleet.items() if isinstance(i, Event)]
    assert (alert.severity, alert.code) == ("alert", "model_unusable")
    assert "leafcam" in alert.message
