"""The agent over a real Mosquitto: items leave only on the fleet's Ack, survive a broker restart,
and the retained status says online, then offline by last will or clean stop."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

from agrifleet.contract import Status
from agrifleet.edge.agent import Agent
from agrifleet.edge.items import Priority
from tests.edge.conftest import running
from tests.edge.fleet_acker import FleetAcker, wait_until

ROOT = Path(__file__).resolve().parents[2]


def reading(i: int) -> dict:
    return {"sensor": "soil", "quantity": "soil_moisture", "value": float(i), "unit": "%"}


def depth(agent: Agent) -> int:
    assert agent.outbox is not None
    return agent.outbox.stats().depth


def test_items_leave_the_outbox_only_when_the_fleet_acks(broker, fleet, make_config):
    config = make_config(broker.add_device("field-07"), outbox={"ack_timeout_s": 1})
    agent = Agent(config, boot_id="boot-1")
    fleet.acking = False
    with running(agent):
        assert agent.outbox is not None
        for i in range(10):
            agent.outbox.emit("reading", reading(i), Priority.READING)
        wait_until(lambda: len(fleet.deliveries) >= 10, what="delivery")
        assert depth(agent) == 10, "the broker's PUBACK is not the fleet's Ack"
        assert fleet.invalid == []
        fleet.acking = True
        fleet.reject = {3: "sensor unknown"}
        wait_until(lambda: depth(agent) == 0, what="acks after the resend timeout")
        assert agent.outbox.stats().dead_letters == 1
    assert fleet.stored["boot-1"] == set(range(10)) - {3}


def test_a_batch_the_fleet_never_acked_is_sent_again(broker, fleet, make_config):
    config = make_config(broker.add_device("field-07"), outbox={"ack_timeout_s": 0.3})
    fleet.ignore_first = 1
    agent = Agent(config, boot_id="boot-1")
    with running(agent):
        assert agent.outbox is not None
        agent.outbox.emit_all([("reading", reading(i), Priority.READING) for i in range(5)])
        wait_until(lambda: depth(agent) == 0, what="resend after timeout")
        assert agent.forwarder is not None and agent.forwarder.resends >= 1
    assert fleet.stored["boot-1"] == set(range(5))


def test_in_flight_batches_are_bounded(broker, fleet, make_config):
    config = make_config(broker.add_device("field-07"),
                         outbox={"max_inflight": 2, "batch_items": 5, "ack_timeout_s": 60})
    fleet.acking = False
    agent = Agent(config, boot_id="boot-1")
    with running(agent):
        assert agent.outbox is not None
        agent.outbox.emit_all([("reading", reading(i), Priority.READING) for i in range(50)])
        wait_until(lambda: len(fleet.batches) >= 2, what="two batches")
        assert agent.forwarder is not None
        wait_until(lambda: agent.forwarder.inflight == 2)  # type: ignore[union-attr]
        assert len(fleet.batches) == 2, "no more than max_inflight unacknowledged batches"
        fleet.acking = True
        agent.forwarder.ack_timeout_s = 0.2  # let the two unacked batches go again
        wait_until(lambda: depth(agent) == 0, what="drain")


def test_broker_restart_mid_stream_loses_nothing(broker, fleet, make_config):
    config = make_config(broker.add_device("field-07"),
                         outbox={"batch_items": 20, "ack_timeout_s": 3})
    agent = Agent(config, boot_id="boot-1")
    produced: list[int] = []
    stop = threading.Event()
    with running(agent):
        outbox = agent.outbox
        assert outbox is not None

        def produce() -> None:
            i = 0
            while not stop.is_set() and i < 600:
                seq = outbox.emit("reading", reading(i), Priority.READING)
                assert seq is not None
                produced.append(seq)
                i += 1
                stop.wait(0.002)

        producer = threading.Thread(target=produce)
        producer.start()
        wait_until(lambda: len(fleet.stored["boot-1"]) > 50, what="traffic before restart")
        broker.restart()
        wait_until(lambda: agent.link is not None and agent.link.connects >= 2,
                   what="agent reconnect")
        producer.join(60)
        wait_until(lambda: depth(agent) == 0, timeout=30, what="drain after restart")
    lost = set(produced) - fleet.stored["boot-1"]
    assert len(produced) == 600 and lost == set(), f"lost={len(lost)}"
    assert sorted(fleet.stored["boot-1"]) == list(range(600))
    duplicates_after_ack = len(fleet.after_ack)
    print(f"delivered {len(fleet.deliveries)} items for 600 produced; "
          f"{duplicates_after_ack} re-delivered after their ack (acks lost in the restart)")
    assert duplicates_after_ack <= 4 * 20, "at most the in-flight window is sent again"


def test_retained_online_status_carries_health(broker, fleet, make_config):
    agent = Agent(make_config(broker.add_device("field-07")), boot_id="boot-1")
    with running(agent):
        wait_until(lambda: any(s.health and s.health.uptime_s > 0 for s in fleet.statuses),
                   what="online status")
        status = next(s for s in fleet.statuses if s.health is not None)
        assert (status.state, status.device_id, status.boot_id) == ("online", "field-07", "boot-1")
        assert status.health is not None and status.health.agent_version
        assert status.health.disk_free_bytes and status.health.disk_free_bytes > 0
    wait_until(lambda: fleet.statuses[-1].state == "offline", what="offline on clean stop")


def run_agent_process(config_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "agrifleet", "edge", "run", "--config", str(config_path)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def write_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(
        f'device_id = "field-07"\ndata_dir = "{tmp_path / "data"}"\n'
        f'[mqtt]\nurl = "{url}"\nkeepalive_s = 5\n[clock]\nsynced = "always"\n'
    )
    return path


def latest_retained_status(broker) -> Status:
    """What a newcomer subscribing now is told about the device."""
    acker = FleetAcker(broker.fleet_url).start()
    try:
        wait_until(lambda: acker.statuses, what="retained status")
        return acker.statuses[-1]
    finally:
        acker.stop()


def test_last_will_marks_a_killed_agent_offline(broker, fleet, tmp_path):
    proc = run_agent_process(write_config(tmp_path, broker.add_device("field-07")))
    try:
        wait_until(lambda: any(s.state == "online" for s in fleet.statuses), what="online")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    wait_until(lambda: fleet.statuses[-1].state == "offline", what="last will")
    assert latest_retained_status(broker).state == "offline"


def test_sigterm_stops_cleanly_and_says_offline(broker, fleet, tmp_path):
    proc = run_agent_process(write_config(tmp_path, broker.add_device("field-07")))
    wait_until(lambda: any(s.state == "online" for s in fleet.statuses), what="online")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    assert fleet.statuses[-1].state == "offline"
    assert latest_retained_status(broker).state == "offline"


def test_wrong_password_is_retried_quietly_and_never_logged(broker, tmp_path):
    broker.add_device("field-07")
    url = f"mqtt://field-07:not-the-password@127.0.0.1:{broker.port}"
    proc = run_agent_process(write_config(tmp_path, url))
    try:
        assert proc.stderr is not None
        lines = []
        for line in proc.stderr:
            lines.append(line.decode())
            if "refused the connection" in lines[-1]:
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    text = "".join(lines)
    assert "not-the-password" not in text and "field-07:***@" in text
