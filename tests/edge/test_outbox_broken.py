"""A damaged or unopenable outbox file stops the agent with one line naming the file and what to
do (exit 3, no traceback); only when told does it move the file aside, keep it, start a fresh
one and salvage what can still be read."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agrifleet.contract import Batch, Event, Reading
from agrifleet.edge.clock import Clock
from agrifleet.edge.items import Priority
from agrifleet.edge.outbox import EXIT_OUTBOX_BROKEN, Outbox, OutboxBroken

ROOT = Path(__file__).resolve().parents[2]


def open_outbox(path: Path, **kwargs) -> Outbox:
    return Outbox.open(path, device_id="field-07", boot_id="boot-a", clock=Clock("always"),
                       seq_mark_dir=path.parent, **kwargs)


def reading(i: int) -> dict:
    return {"sensor": "soil", "quantity": "soil_moisture", "value": float(i), "unit": "%"}


def filled(path: Path, n: int) -> None:
    outbox = open_outbox(path)
    for start in range(0, n, 100):
        outbox.emit_all([("reading", reading(i), Priority.READING)
                         for i in range(start, min(n, start + 100))])
    outbox.close()  # checkpoints the WAL into the file


def garbage(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def truncated(path: Path) -> None:
    filled(path, 3000)
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size * 6 // 10)


def header_only(path: Path) -> None:
    filled(path, 50)
    with path.open("r+b") as f:
        f.truncate(60)


@pytest.mark.parametrize("damage, why", [(garbage, "file is not a database"),
                                         (truncated, "malformed"),
                                         (header_only, "malformed")])
def test_a_damaged_file_is_one_clear_error_naming_it(tmp_path, damage, why):
    path = tmp_path / "outbox.sqlite"
    damage(path)
    before = path.read_bytes()
    with pytest.raises(OutboxBroken) as caught:
        open_outbox(path)
    line = str(caught.value)
    assert "\n" not in line and str(path) in line and why in line
    assert "--reset-broken-outbox" in line and 'on_corrupt = "move-aside"' in line
    assert path.read_bytes() == before, "without being told, the file is left as it was"


def test_a_folder_in_the_outbox_s_place_cannot_be_moved_aside(tmp_path):
    path = tmp_path / "outbox.sqlite"
    path.mkdir()
    with pytest.raises(OutboxBroken, match=r"cannot be opened \(it is a folder\)"):
        open_outbox(path, on_corrupt="move-aside")
    assert path.is_dir()


def test_moving_aside_keeps_the_old_file_and_salvages_its_readable_rows(tmp_path):
    path = tmp_path / "outbox.sqlite"
    truncated(path)
    outbox = open_outbox(path, on_corrupt="move-aside")
    (kept,) = tmp_path.glob("outbox.sqlite.broken-*Z")
    assert kept.stat().st_size > 0, "the damaged file is kept for inspection"
    items = []
    while (taken := outbox.take_batch()) is not None:
        items += Batch.model_validate_json(taken.payload).items
    (alert,) = [i for i in items if isinstance(i, Event)]
    salvaged = [i for i in items if isinstance(i, Reading)]
    assert (alert.severity, alert.code) == ("alert", "outbox_reset")
    assert f"{len(salvaged)} item(s) salvaged" in alert.message and kept.name in alert.message
    assert 0 < len(salvaged) < 3000 and len(salvaged) + 1 == len(items)
    assert [r.value for r in salvaged] == [float(r.seq) for r in salvaged], "rows are intact"
    assert alert.seq >= 3000, "seqs continue above every seq the old file had used"
    outbox.close()


WRITE_CONFIG = """device_id = "field-07"
data_dir = "{data}"
[mqtt]
url = "mqtt://127.0.0.1:1"
[clock]
synced = "always"
[outbox]
seq_mark_dir = "{data}"
"""


def agent(tmp_path: Path, *flags: str, drop_root: bool = False) -> subprocess.Popen[str]:
    config = tmp_path / "agent.toml"
    config.write_text(WRITE_CONFIG.format(data=tmp_path / "data"))
    argv = [sys.executable, "-m", "agrifleet", "edge", "run", "--config", str(config), *flags]
    if drop_root:  # root reads any file: drop the capabilities that let it
        caps = "-dac_override,-dac_read_search"
        argv = ["setpriv", "--bounding-set", caps, "--inh-caps", caps, *argv]
    return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_agrifleet_edge_run_prints_one_line_and_exits_3(tmp_path):
    (tmp_path / "data").mkdir()
    garbage(tmp_path / "data" / "outbox.sqlite")
    proc = agent(tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_OUTBOX_BROKEN == 3
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"outbox {tmp_path / 'data' / 'outbox.sqlite'} is damaged (")


def test_a_file_the_agent_may_not_read_is_named_with_the_reason(tmp_path):
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to run the agent without root's file access")
    (tmp_path / "data").mkdir()
    filled(tmp_path / "data" / "outbox.sqlite", 10)
    (tmp_path / "data" / "outbox.sqlite").chmod(0)
    proc = agent(tmp_path, drop_root=os.geteuid() == 0)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3 and "Traceback" not in err
    assert "cannot be opened (permission denied" in err.strip().splitlines()[-1]


def test_reset_broken_outbox_flag_starts_a_fresh_outbox_and_says_what_it_salvaged(tmp_path):
    (tmp_path / "data").mkdir()
    truncated(tmp_path / "data" / "outbox.sqlite")
    proc = agent(tmp_path, "--reset-broken-outbox")
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "waiting, next seq" in line:
            break
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=30)
    assert proc.returncode == 0, "".join(lines) + rest
    text = "".join(lines)
    assert "moved it to" in text and "item(s) that could be read" in text
    assert list((tmp_path / "data").glob("outbox.sqlite.broken-*Z"))
