"""The agent's systemd notifications specify: READY=1 once it runs, WATCHDOG=1 pings from its
main loop at half of $WATCHDOG_USEC, STOPPING=1 on SIGTERM; nothing at all without systemd."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agrifleet.edge.notify import Watchdog, notify
from tests.services import free_port


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(path)
        s.settimeout(10)
        yield path, s


def test_notify_reaches_the_socket_and_is_silent_without_one(
        listener: tuple[str, socket.socket]) -> None:
    path, s = listener
    assert notify("READY=1", {"NOTIFY_SOCKET": path})
    assert s.recv(4096) == b"READY=1"
    assert notify("READY=1", {}) is False
    assert notify("READY=1", {"NOTIFY_SOCKET": path + ".gone"}) is False


def test_an_abstract_socket_works_too() -> None:
    name = f"agrifleet-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind("\0" + name)
        s.settimeout(5)
        assert notify("STATUS=ok", {"NOTIFY_SOCKET": "@" + name})
        assert s.recv(4096) == b"STATUS=ok"


def test_the_watchdog_is_idle_without_watchdog_usec_or_for_another_pid() -> None:
    assert Watchdog({}).interval_s is None
    assert Watchdog({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}).interval_s is None
    assert Watchdog({"WATCHDOG_USEC": "4000000"}).interval_s == 2.0


def test_a_running_agent_says_ready_pings_and_says_stopping(
        listener: tuple[str, socket.socket], tmp_path: Path) -> None:
    path, s = listener
    config = tmp_path / "agent.toml"
    config.write_text(f'device_id = "field-01"\ndata_dir = "{tmp_path / "data"}"\n\n'
                      f'[mqtt]\nurl = "mqtt://127.0.0.1:{free_port()}"\npassword = "x"\n')
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"}
    agent = subprocess.Popen([sys.executable, "-m", "agrifleet", "edge", "run", "--config",
                              str(config)], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        got: list[bytes] = []
        deadline = time.monotonic() + 20
        while got.count(b"WATCHDOG=1") < 3 and time.monotonic() < deadline:
            got.append(s.recv(4096))
        assert got[0] == b"READY=1"
        assert got.count(b"WATCHDOG=1") >= 3
        agent.send_signal(signal.SIGTERM)
        while b"STOPPING=1" not in got:
            got.append(s.recv(4096))
        assert agent.wait(20) == 0
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
