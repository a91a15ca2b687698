"""`agrifleet sim sensors` prints one KIND PATH LINK line per simulator and serves until SIGTERM.

Ctrl-C (SIGINT) stops it too, but a process started with SIGINT ignored (a background launch)
never sees it: the tests send SIGTERM, and the Ctrl-C case starts its simulator with SIGINT
restored to the default so it does not depend on how pytest itself was started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agrifleet.hardware.modbus import ModbusSoilProbe
from agrifleet.hardware.nmea import NmeaGps
from agrifleet.hardware.sdi12 import Sdi12Probe
from agrifleet.hardware.sensor import Sensor


def test_sim_sensors_serves_real_protocols_until_terminated(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "agrifleet.cli", "sim", "sensors", "--soil", "2"]
    proc = subprocess.Popen(
        [*command, "--link-dir", str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().split() for _ in range(4)]
        assert [line[0] for line in lines] == ["modbus-soil", "modbus-soil", "sdi12", "nmea-gps"]
        assert all(line[1].startswith("/dev/pts/") for line in lines)
        assert all(Path(line[2]).parent == tmp_path for line in lines)
        sensors: list[Sensor] = [
            ModbusSoilProbe(lines[0][2], timeout=1.0),
            ModbusSoilProbe(lines[1][1], timeout=1.0),
            Sdi12Probe(lines[2][2], profile="acclima-tdr", timeout=1.0),
            NmeaGps(lines[3][1], timeout=3.0),
        ]
        try:
            counts = [len(sensor.read()) for sensor in sensors]
        finally:
            for sensor in sensors:
                sensor.close()
        assert counts == [7, 7, 5, 6]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert proc.returncode == 0
    assert list(tmp_path.iterdir()) == []


def test_help_lists_the_options() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "agrifleet.cli", "sim", "sensors", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in ("--soil", "--sdi12", "--gps", "--fault", "bad-crc", "unplug", "SIGTERM"):
        assert option in out


def _sim(tmp_path: Path, *args: str, ctrl_c: bool = False) -> subprocess.Popen[str]:
    """``agrifleet sim sensors`` with its temp dirs confined to tmp_path/tmp.

    ``ctrl_c``: start it with SIGINT at its default, as a terminal's foreground job has it,
    even when this process was started with SIGINT ignored (which children inherit).
    """
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    start = ["-c", _WITH_CTRL_C] if ctrl_c else ["-m", "agrifleet.cli"]
    return subprocess.Popen(
        [sys.executable, *start, "sim", "sensors", "--sdi12", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TMPDIR": str(scratch)},
    )


#: ``agrifleet ARGS`` with Python's own Ctrl-C handler (KeyboardInterrupt) installed.
_WITH_CTRL_C = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
                "from agrifleet.cli import main; sys.exit(main(sys.argv[1:]))")


@pytest.mark.parametrize("period", ["0", "-5", "nan", "inf"])
def test_a_fault_period_that_is_not_positive_is_refused(tmp_path: Path, period: str) -> None:
    proc = _sim(tmp_path, "--fault", "noise", "--fault-period", period)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert out == ""
    assert err.count("\n") == 1 and "--fault-period must be a number of seconds above 0" in err
    assert list((tmp_path / "tmp").iterdir()) == []


def test_an_unknown_profile_is_one_line_and_leaves_no_folder(tmp_path: Path) -> None:
    proc = _sim(tmp_path, "--soil-profile", "soil-9in1")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "Traceback" not in err and "unknown profile 'soil-9in1'" in err
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_link_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")
    proc = _sim(tmp_path, "--link-dir", str(tmp_path / "taken"))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "Traceback" not in err and "is not a folder" in err


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130), (signal.SIGHUP, 0)]
)
def test_stopping_removes_the_link_folder_it_made(
    tmp_path: Path, signum: signal.Signals, code: int
) -> None:
    proc = _sim(tmp_path, "--fault", "unplug", "--fault-period", "0.2",
                ctrl_c=signum == signal.SIGINT)
    assert proc.stdout is not None
    links = [Path(proc.stdout.readline().split()[2]) for _ in range(2)]
    assert links[0].parent.parent == tmp_path / "tmp"  # agrifleet-serial-… in our TMPDIR
    proc.send_signal(signum)
    proc.communicate(timeout=30)
    assert proc.returncode == code
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_link_dir_it_created_is_removed_and_one_it_found_is_kept(tmp_path: Path) -> None:
    new, existing = tmp_path / "new" / "by-id", tmp_path / "existing"
    existing.mkdir()
    (existing / "mine.txt").write_text("keep me")
    for folder in (new, existing):
        proc = _sim(tmp_path, "--link-dir", str(folder))
        assert proc.stdout is not None
        assert Path(proc.stdout.readline().split()[2]).parent == folder
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        assert proc.returncode == 0
    assert not new.exists()
    assert [p.name for p in existing.iterdir()] == ["mine.txt"]
