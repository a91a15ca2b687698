"""Fixtures for the agent's tests: config files, a real fleet acker, an agent on a thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from agrifleet.edge.agent import Agent
from agrifleet.edge.config import AgentConfig, parse_config
from tests.edge.fleet_acker import FleetAcker
from tests.services import Broker

MakeConfig = Callable[..., AgentConfig]


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and key in out else value
    return out


@pytest.fixture
def make_config(tmp_path: Path) -> MakeConfig:
    """An AgentConfig for a device, with test-friendly timings; keyword sections override."""

    def make(url: str = "mqtt://127.0.0.1:1", device_id: str = "field-07",
             **sections: Any) -> AgentConfig:
        data = {
            "device_id": device_id,
            "data_dir": str(tmp_path / device_id),
            "status_interval_s": 0.5,
            "mqtt": {"url": url, "reconnect_min_s": 0.05, "reconnect_max_s": 0.5,
                     "keepalive_s": 5},
            "clock": {"synced": "always"},
            "outbox": {"ack_timeout_s": 5, "seq_mark_dir": str(tmp_path)},
            "polling": {"retry_min_s": 0.05, "retry_max_s": 0.2},
        }
        return parse_config(_merge(data, sections), "test config")

    return make


@pytest.fixture
def fleet(broker: Broker) -> Iterator[FleetAcker]:
    acker = FleetAcker(broker.fleet_url).start()
    yield acker
    acker.stop()


@contextmanager
def running(agent: Agent) -> Iterator[Agent]:
    """Run an agent on a thread until the block ends; re-raise what run() raised."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            agent.run()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="agent", daemon=True)
    thread.start()
    try:
        assert agent.started.wait(10) or errors, "agent did not start"
        if errors:
            raise errors[0]
        yield agent
    finally:
        agent.stop()
        thread.join(15)
        assert not thread.is_alive(), "agent did not stop"
    if errors:
        raise errors[0]
