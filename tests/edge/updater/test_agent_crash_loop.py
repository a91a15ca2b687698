"""A real agent process (`agrifleet edge run`) that keeps dying after a switch, before the new
model is confirmed, goes back to its previous model by itself on the next start and says why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from agrifleet.edge.updater.state import StateFile
from tests.base_model import BASE_VERSION
from tests.edge.updater.conftest import Keys, MakePackage, offer_for
from tests.edge.updater.package_server import PackageServer
from tests.edge.updater.rig import Rig
from tests.services import free_port

REPO = Path(__file__).resolve().parents[3]


def _start_and_kill(config: Path, log: Path, wanted: str) -> None:
    """Start the agent, wait until its log says ``wanted``, then SIGKILL it (a crash)."""
    before = log.read_text() if log.exists() else ""
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "agrifleet", "edge", "run", "--config",
                                 str(config)], cwd=REPO, stdout=out, stderr=out,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        deadline = time.monotonic() + 60
        while wanted not in log.read_text()[len(before):]:
            assert proc.poll() is None, log.read_text()[len(before):]
            assert time.monotonic() < deadline, f"no {wanted!r} in {log.read_text()[-2000:]}"
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()


def test_an_agent_that_crashes_in_trial_rolls_back_by_itself(
        tmp_path: Path, keys: Keys, base_model: Path, make_package: MakePackage,
        server: PackageServer):
    rig = Rig(tmp_path / "node", [keys.pub], base_model)
    rig.boot().handle(offer_for(server, make_package("1.2.0"), rollout_id=5))  # switched
    assert StateFile(rig.data_dir / "updates").load().trial is not None
    config = tmp_path / "agent.toml"
    config.write_text(f"""
device_id = "field-11"
data_dir = "{rig.data_dir}"
[clock]
synced = "always"
[mqtt]
url = "mqtt://127.0.0.1:{free_port()}"
[updates]
trusted_keys = ["{keys.pub}"]
max_trial_starts = 2
[[cameras]]  # on the rig's model (without one the agent would run the shipped default)
type = "folder"
name = "leafcam"
path = "{rig.photos}"
model = "{base_model}"
""")
    log = tmp_path / "agent.log"
    _start_and_kill(config, log, "in trial: start 2 of at most 2")  # the switch was start 1

    _start_and_kill(config, log, "rolled back")

    state = StateFile(rig.data_dir / "updates").load()
    assert state.current is None and state.trial is None
    assert state.last is not None and state.last.state == "rolled_back"
    assert "crash loop" in (state.last.reason or "")
    outbox = rig.data_dir / "outbox.sqlite"
    import sqlite3

    with sqlite3.connect(f"file:{outbox}?mode=ro", uri=True) as db:
        bodies = [json.loads(b) for (b,) in db.execute(
            "SELECT body FROM items WHERE kind = 'update' ORDER BY seq")]
    assert [b["state"] for b in bodies] == ["rolled_back"]
    assert bodies[0]["active"]["version"] == BASE_VERSION and bodies[0]["rollout_id"] == 5
