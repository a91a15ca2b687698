"""The status's disk_free_bytes is the free space where the outbox lives (the card that can fill
up), not of the data folder when the outbox is kept on another file system."""

from __future__ import annotations

from agrifleet.edge.agent import Agent
from tests.edge.conftest import running
from tests.edge.fleet_acker import wait_until
from tests.edge.small_disk import fill, tmpfs


def test_disk_free_is_measured_where_the_outbox_is(broker, fleet, make_config, tmp_path):
    with tmpfs(tmp_path / "card", size="4m") as card:
        config = make_config(broker.add_device("field-07"),
                             outbox={"path": str(card / "outbox.sqlite")})
        agent = Agent(config, boot_id="boot-1")
        with running(agent):
            wait_until(lambda: any(s.health for s in fleet.statuses), what="a status")
            filler = fill(card)
            wait_until(lambda: any(s.health and s.health.disk_free_bytes == 0
                                   for s in fleet.statuses), what="a status with the card full")
            filler.unlink()
        health = next(s.health for s in fleet.statuses if s.health)
        assert health.disk_free_bytes is not None and health.disk_free_bytes <= 4 * 1024 * 1024
