"""The agent over a real Mosquitto follows the fleet's status: when the fleet comes back it
resends what awaits an ack at once, not after ack_timeout_s; and an alert never waits behind a
full window of unacknowledged readings."""

from __future__ import annotations

from agrifleet.contract import Batch, Event
from agrifleet.edge.agent import Agent
from agrifleet.edge.items import Priority
from tests.edge.conftest import running
from tests.edge.fleet_acker import FleetAcker, wait_until

#: Long enough that only the fleet's announcement can explain a resend during a test.
NEVER_S = 600


def reading(i: int) -> dict:
    return {"sensor": "soil", "quantity": "soil_moisture", "value": float(i), "unit": "%"}


def seqs(batch: Batch) -> list[int]:
    return [item.seq for item in batch.items]


def test_an_alert_is_sent_while_max_inflight_reading_batches_await_acks(
    broker, fleet: FleetAcker, make_config
):
    config = make_config(broker.add_device("field-07"),
                         outbox={"max_inflight": 2, "batch_items": 5, "ack_timeout_s": NEVER_S})
    fleet.acking = False
    agent = Agent(config, boot_id="boot-1")
    with running(agent):
        assert agent.outbox is not None and agent.forwarder is not None
        agent.outbox.emit_all([("reading", reading(i), Priority.READING) for i in range(50)])
        wait_until(lambda: agent.forwarder.inflight == 2, what="a full window")  # type: ignore
        agent.outbox.emit("event", {"severity": "alert", "code": "frost",
                                    "message": "frost on the leaves"}, Priority.ALERT)
        wait_until(lambda: any(isinstance(i, Event) for i in fleet.items()), what="the alert")
        kinds = [{item.kind for item in b.items} for b in fleet.batches]
        assert kinds == [{"reading"}, {"reading"}, {"event"}]
        assert agent.forwarder.expired == 0, "no ack timeout explains it"


def test_the_node_resends_at_once_when_the_fleet_comes_back(
    broker, fleet: FleetAcker, make_config
):
    fleet.announce("online", "fleet-a")
    config = make_config(broker.add_device("field-07"),
                         outbox={"max_inflight": 2, "batch_items": 5, "ack_timeout_s": NEVER_S})
    fleet.acking = False  # the fleet takes the batches and dies before storing them
    agent = Agent(config, boot_id="boot-1")
    with running(agent):
        link, forwarder, outbox = agent.link, agent.forwarder, agent.outbox
        assert link is not None and forwarder is not None and outbox is not None
        wait_until(lambda: link.fleet is not None, what="the fleet's retained status")
        outbox.emit_all([("reading", reading(i), Priority.READING) for i in range(20)])
        wait_until(lambda: len(fleet.batches) == 2, what="a full window")
        assert link.fleet_returns == 0, "the first sight of a fleet is not a return"
        first = [seqs(b) for b in fleet.batches]

        fleet.announce("offline", "fleet-a")  # its last will
        fleet.acking = True
        fleet.announce("online", "fleet-b")  # a new process
        wait_until(lambda: outbox.stats().depth == 0, what="everything stored")
        assert [seqs(b) for b in fleet.batches[2:4]] == first, "the same batches, again, first"
        assert forwarder.expired == 0 and link.fleet_returns == 1
        assert fleet.stored["boot-1"] == set(range(20))

        # The same announcement seen again (our reconnect) is no return; the same fleet
        # connecting again (a new ts: the broker restarted) and a new fleet are.
        before = len(fleet.batches)
        fleet.announce("online", "fleet-b")
        fleet.publish_fleet_status(b"{not json")
        fleet.announce("online", "fleet-b", ts="2026-06-01T12:00:00+00:00")
        fleet.announce("online", "fleet-c")
        wait_until(lambda: link.fleet is not None and link.fleet.instance == "fleet-c",
                   what="the third fleet")
        assert link.fleet_returns == 3
        assert len(fleet.batches) == before, "nothing was awaiting an ack"
