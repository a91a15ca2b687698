"""`agrifleet demo` refuses, in one line naming the port and its option, a port already taken."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 another program listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield int(other.getsockname()[1])


def _demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agrifleet", "demo", "--workdir", str(tmp_path / "demo"), *args],
        capture_output=True, text=True, timeout=60,
    )


def test_a_taken_api_port_names_the_port_and_the_option(tmp_path: Path, taken_port: int) -> None:
    done = _demo(tmp_path, "--port", str(taken_port), "--duration", "1")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"agrifleet demo: 127.0.0.1:{taken_port} for the fleet API is already in use: "
        "choose another with --port PORT"
    ]
    assert not (tmp_path / "demo").exists()  # refused before anything started


def test_a_taken_broker_port_names_the_port_and_the_option(
    tmp_path: Path, taken_port: int
) -> None:
    done = _demo(
        tmp_path, "--port", str(_free_port()), "--mqtt-port", str(taken_port), "--duration", "1"
    )
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert f"127.0.0.1:{taken_port} for the MQTT broker is already in use" in done.stderr
    assert "--mqtt-port PORT" in done.stderr


def test_an_address_that_is_not_this_machines_is_one_line(tmp_path: Path) -> None:
    done = _demo(tmp_path, "--host", "192.0.2.1", "--duration", "1")  # TEST-NET-1
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "192.0.2.1:8000 for the fleet API is not available here" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "0"], "ports are 1..65535"),
        (["--mqtt-port", "70000"], "ports are 1..65535"),
        (["--agents", "0"], "--agents must be 1 or more"),
    ],
)
def test_impossible_options_are_refused(tmp_path: Path, args: list[str], message: str) -> None:
    done = _demo(tmp_path, *args)
    assert done.returncode == 2
    assert done.stderr.strip() == f"agrifleet demo: {message}"


def test_a_work_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "agrifleet", "demo", "--workdir", str(tmp_path / "a-file" / "w"),
         "--port", str(_free_port()), "--duration", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"agrifleet demo: cannot create the work folder {tmp_path / 'a-file' / 'w'}: "
        "Not a directory"
    ]


def test_a_fleet_that_cannot_start_is_one_line_naming_its_failure(tmp_path: Path) -> None:
    """A bad fleet setting in the environment: the fleet's own one-line reason, not a traceback."""
    done = subprocess.run(
        [sys.executable, "-m", "agrifleet", "demo", "--workdir", str(tmp_path / "w"),
         "--port", str(_free_port()), "--broker", "embedded", "--duration", "1"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "AGRIFLEET_OFFLINE_AFTER_S": "1"},
    )  # fmt: skip
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("agrifleet demo: agrifleet fleet migrate failed: ")
    assert last.endswith("AGRIFLEET_OFFLINE_AFTER_S: Input should be greater than or equal to 10")
    assert "Traceback" not in done.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
