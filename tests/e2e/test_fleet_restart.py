"""A fleet restart while a node streams: the node resends what awaits an ack as soon as it sees
the fleet announce itself, so stored readings resume long before the node's ack timeout could
have fired; nothing is lost and nothing stored twice.

Restarted in place (the same client id), the broker hands the new process what the old one had
not stored, and the node resends too: stored once all the same. Restored with a broker session
of its own (a new client id, as a fleet moved to another machine), what the broker had queued
for the old session never arrives, so only the node's resend can explain the quick resume; that
case also checks the order of events.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy

from agrifleet.edge.agent import Agent
from agrifleet.edge.config import parse_config
from agrifleet.edge.items import Priority
from agrifleet.fleet.settings import FleetSettings
from tests.fleet.conftest import running_fleet
from tests.fleet.device import wait_until
from tests.services import Broker

ACK_TIMEOUT_S = 60.0


@contextmanager
def streaming(agent: Agent) -> Iterator[list[int]]:
    """The agent on a thread, and a producer committing a reading every few milliseconds."""
    produced: list[int] = []
    stop = threading.Event()

    def produce() -> None:
        assert agent.outbox is not None
        i = 0
        while not stop.wait(0.005):
            seq = agent.outbox.emit("reading", {"sensor": "soil", "quantity": "moisture",
                                                "value": float(i), "unit": "%"}, Priority.READING)
            assert seq is not None
            produced.append(seq)
            i += 1

    runner = threading.Thread(target=agent.run, name="agent", daemon=True)
    runner.start()
    assert agent.started.wait(10)
    producer = threading.Thread(target=produce, name="producer", daemon=True)
    producer.start()
    try:
        yield produced
    finally:
        stop.set()
        producer.join(10)
        agent.stop()
        runner.join(15)


def stored(engine: sqlalchemy.Engine) -> list[tuple[int, datetime]]:
    with engine.connect() as conn:
        rows = conn.execute(sqlalchemy.text(
            "SELECT seq, stored_at FROM reading WHERE device_id = 'field-07' ORDER BY seq"))
        return [(seq, datetime.fromisoformat(str(at)).replace(tzinfo=UTC)) for seq, at in rows]


def at(record: logging.LogRecord) -> datetime:
    return datetime.fromtimestamp(record.created, UTC)


@pytest.mark.parametrize("session", ["same-session", "new-session"])
def test_stored_readings_resume_on_the_fleets_announcement(
    tmp_path: Path, broker: Broker, caplog: pytest.LogCaptureFixture, session: str
) -> None:
    caplog.set_level(logging.INFO, logger="agrifleet.edge")
    db = tmp_path / "fleet.db"
    first_life = FleetSettings(database_url=f"sqlite:///{db}", mqtt_url=broker.fleet_url,
                               mqtt_client_id="fleet-first")
    second_life = first_life if session == "same-session" else first_life.model_copy(
        update={"mqtt_client_id": "fleet-second"})
    config = parse_config({
        "device_id": "field-07", "data_dir": str(tmp_path / "node"),
        "mqtt": {"url": broker.add_device("field-07"), "reconnect_min_s": 0.05,
                 "reconnect_max_s": 0.5},
        "clock": {"synced": "always"},
        "outbox": {"ack_timeout_s": ACK_TIMEOUT_S, "max_inflight": 2, "batch_items": 20},
    })  # fmt: skip
    agent = Agent(config, boot_id="boot-1")
    engine = sqlalchemy.create_engine(f"sqlite:///{db}")
    first = ExitStack()
    first.enter_context(running_fleet(first_life)).register("field-07")
    with first, streaming(agent) as produced:
        link, forwarder = agent.link, agent.forwarder
        assert link is not None and forwarder is not None
        wait_until(lambda: len(stored(engine)) > 100, what="readings flowing")
        first.close()
        # Stopped: the node's window fills with batches nobody will store.
        wait_until(lambda: link.fleet is not None and link.fleet.state == "offline",
                   what="the fleet's offline status")
        wait_until(lambda: forwarder.inflight == 2, what="a full window of unacked batches")
        before = {seq for seq, _ in stored(engine)}
        restarted = datetime.now(UTC)
        with running_fleet(second_life):
            wait_until(lambda: len(stored(engine)) > len(before) + 100, timeout=30,
                       what="readings stored again")
            count = len(produced)
            wait_until(lambda: {s for s, _ in stored(engine)} >= set(produced[:count]),
                       timeout=30, what="everything produced so far stored")
    engine.dispose()

    back = [r for r in caplog.records if "ingestion is back" in r.getMessage()]
    resent = [r for r in caplog.records if r.getMessage().startswith("fleet is back: sent")]
    rows = stored(engine)
    resumed = min(when for seq, when in rows if seq not in before)
    assert len(back) == 1 and restarted < at(back[0]), [r.getMessage() for r in caplog.records]
    if session == "new-session":
        # The order of events: the announcement seen, then the resend, then stored again.
        assert len(resent) == 1
        assert at(back[0]) <= at(resent[0]) <= resumed
    assert forwarder.expired == 0, "no batch waited for the ack timeout"
    assert (resumed - restarted).total_seconds() < ACK_TIMEOUT_S
    seqs = [seq for seq, _ in rows]
    assert len(seqs) == len(set(seqs)), "nothing stored twice"
    assert set(produced[:count]) <= set(seqs), "nothing lost"
    print(f"{session}: stored readings resumed {(resumed - restarted).total_seconds():.2f} s "
          f"after the fleet restart began (ack timeout {ACK_TIMEOUT_S:.0f} s)")


def test_a_broker_restart_costs_no_ack_timeout(tmp_path: Path, broker: Broker) -> None:
    """The broker keeps nothing (no persistence): the node, reconnecting first, sends into a void
    until the fleet resubscribes; the fleet's new announcement makes it send again at once."""
    db = tmp_path / "fleet.db"
    settings = FleetSettings(database_url=f"sqlite:///{db}", mqtt_url=broker.fleet_url,
                             mqtt_client_id="fleet-broker-restart")
    config = parse_config({
        "device_id": "field-07", "data_dir": str(tmp_path / "node"),
        "mqtt": {"url": broker.add_device("field-07"), "reconnect_min_s": 0.05,
                 "reconnect_max_s": 0.5},
        "clock": {"synced": "always"},
        "outbox": {"ack_timeout_s": ACK_TIMEOUT_S, "max_inflight": 2, "batch_items": 20},
    })  # fmt: skip
    agent = Agent(config, boot_id="boot-1")
    engine = sqlalchemy.create_engine(f"sqlite:///{db}")
    with running_fleet(settings) as fleet:
        fleet.register("field-07")
        with streaming(agent) as produced:
            assert agent.link is not None and agent.forwarder is not None
            wait_until(lambda: len(stored(engine)) > 100, what="readings flowing")
            broker.restart()
            wait_until(lambda: agent.link.connects >= 2, what="the node back")  # type: ignore
            count = len(produced)
            wait_until(lambda: {s for s, _ in stored(engine)} >= set(produced[:count]),
                       timeout=30, what="everything produced before the restart stored")
            assert agent.forwarder.expired == 0, "no batch waited for the ack timeout"
    seqs = [seq for seq, _ in stored(engine)]
    engine.dispose()
    assert len(seqs) == len(set(seqs))
