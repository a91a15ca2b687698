"""The technician's commands specify: `model publish` exits 0 on acceptance and non-zero with the
fleet's reason on refusal; `rollout start` prints an id; `rollout status ID --json` has the fixed
fields; pause, resume, approve and abort act on the fleet over real HTTP; status and list say
which devices do not take offers, why a start is refused, an abort's note, and "no rollouts"."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlmodel import Session

from agrifleet.cli import main
from agrifleet.fleet.app import create_app
from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.people.auth import create_token
from agrifleet.fleet.settings import FleetSettings
from tests.fleet.modelops.registry.conftest import Keys
from tests.fleet.modelops.registry.packages import package_dir
from tests.fleet.modelops.rollouts.conftest import OLD
from tests.services import Broker, free_port


@pytest.fixture
def served(tmp_path: Path, broker: Broker, keys: Keys,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fleet served by uvicorn on a free port; AGRIFLEET_FLEET_URL/TOKEN point at it."""
    port = free_port()
    settings = FleetSettings(
        database_url=f"sqlite:///{tmp_path / 'fleet.db'}", mqtt_url=broker.fleet_url,
        mqtt_client_id=f"fleet-{secrets.token_hex(4)}", data_dir=tmp_path / "data",
        model_keys=(keys.pub,), public_url=f"http://127.0.0.1:{port}", rollout_tick_s=60)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = threading.Event()
    while not started.wait(0.05):
        if server.started:
            started.set()
        assert thread.is_alive(), "the fleet did not start"
    monkeypatch.setenv("AGRIFLEET_FLEET_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AGRIFLEET_TOKEN", create_token(app.state.engine, "technician", "tess"))
    with Session(app.state.engine) as session:
        for d in ("a", "b"):
            session.add(Device(id=d, online=True, health={"model": OLD, "outbox_depth": 0}))
        session.commit()
    try:
        yield app
    finally:
        server.should_exit = True
        thread.join(10)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_publish_then_start_and_steer_a_rollout(
    served: Any, keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pkg = package_dir(tmp_path / "p", "1.2.0", keys.key)
    code, out, err = _run(capsys, "model", "publish", str(pkg))
    assert code == 0, err
    assert out.startswith("published leaf-disease 1.2.0")

    code, out, err = _run(capsys, "model", "publish", str(pkg))
    assert code == 0, err  # the same archive again (a retry): answered as the first
    other = package_dir(tmp_path / "q", "1.2.0", keys.key, expires_days=31)  # another archive
    code, out, err = _run(capsys, "model", "publish", str(other))
    assert code != 0 and "409" in err and "same_version" in err

    code, out, err = _run(capsys, "rollout", "start", "--model", "leaf-disease", "--version",
                          "1.2.0", "--devices", "a,b", "--phases", "50,100",
                          "--max-failures", "10%", "--approval", "--min-agreement", "0.8")
    assert code == 0, err
    rid = int(out.strip())

    code, out, err = _run(capsys, "rollout", "status", str(rid), "--json")
    status = json.loads(out)
    assert status["state"] == "running"
    assert status["max_failure_pct"] == 10 and status["limits"]["min_agreement"] == 0.8
    assert [(d["device_id"], d["state"], d["reason"]) for d in status["devices"]] == [
        ("a", "offered", None), ("b", "pending", None)]

    assert _run(capsys, "rollout", "pause", str(rid), "--note", "lunch")[0] == 0
    code, out, _ = _run(capsys, "rollout", "list")
    assert out.split()[:4] == [str(rid), "leaf-disease", "1.2.0", "paused"]
    assert _run(capsys, "rollout", "resume", str(rid))[0] == 0
    code, _, err = _run(capsys, "rollout", "approve", str(rid))
    assert code == 1 and "not waiting for approval" in err
    code, out, _ = _run(capsys, "rollout", "abort", str(rid))
    assert code == 0 and out.startswith(f"rollout {rid}: aborted")


def test_status_and_list_say_what_a_technician_needs_to_know(
    served: Any, keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, "rollout", "list")[1] == "no rollouts\n"
    with Session(served.state.engine) as session:  # b's agent has no [updates] section
        b = session.get(Device, "b")
        assert b is not None
        b.health = {"model": OLD, "outbox_depth": 0, "takes_offers": False}
        session.add(b)
        session.commit()
    assert _run(capsys, "model", "publish", str(package_dir(tmp_path / "p", "1.2.0",
                                                             keys.key)))[0] == 0
    code, out, err = _run(capsys, "rollout", "start", "--model", "leaf-disease", "--version",
                          "1.2.0", "--devices", "a,b")
    assert code == 0, err
    rid = int(out)

    code, out, _ = _run(capsys, "rollout", "status", str(rid))
    lines = out.splitlines()
    assert lines[1] == ("  1 device(s) do not take model offers: b (no [updates] section in "
                        "their agent config; see docs/edge.md)")
    # (offline: the fixture's devices were never heard from)
    assert lines[-1].split() == ["b", "offered", "(offline)", "(does", "not", "take", "model",
                                 "offers)"]
    assert lines[-2].split() == ["a", "offered", "(offline)"]
    status = json.loads(_run(capsys, "rollout", "status", str(rid), "--json")[1])
    assert [d["takes_offers"] for d in status["devices"]] == [None, False]

    code, _, err = _run(capsys, "rollout", "start", "--model", "leaf-disease", "--version",
                        "1.2.0", "--devices", "a")
    assert code == 1
    assert err.strip() == (f"agrifleet: the fleet answered 409: device(s) already in an "
                           f"unfinished rollout: a (rollout {rid})")

    code, out, _ = _run(capsys, "rollout", "abort", str(rid), "--note", "wrong labels")
    assert code == 0 and out.strip().endswith("— aborted by tess (technician): wrong labels")
    code, out, _ = _run(capsys, "rollout", "status", str(rid), "--wait")
    assert code == 1  # followed to its end, which is not "completed"
    assert out.splitlines()[0].endswith("aborted — aborted by tess (technician): wrong labels")
    code, out, _ = _run(capsys, "rollout", "list")
    assert out.strip().endswith("(aborted by tess (technician): wrong labels)")


def test_a_refused_package_exits_non_zero_with_the_reason(
    served: Any, keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pkg = package_dir(tmp_path / "p", "1.2.0", keys.other_key)
    code, _, err = _run(capsys, "model", "publish", str(pkg))
    assert code == 1 and "422" in err and "unknown_key" in err
    unsigned = package_dir(tmp_path / "u", "1.2.0", None)
    code, _, err = _run(capsys, "model", "publish", str(unsigned))
    assert code == 1 and "unsigned" in err


def test_without_a_fleet_the_commands_say_what_to_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGRIFLEET_FLEET_URL", raising=False)
    code, _, err = _run(capsys, "rollout", "list")
    assert code == 1 and "AGRIFLEET_FLEET_URL" in err
    code, _, err = _run(capsys, "rollout", "start", "--model", "leaf-disease", "--version",
                        "1.2.0", "--all")
    assert code == 1
    assert err.strip() == ("agrifleet: no fleet address: pass --fleet http://host:8000 or set "
                           "AGRIFLEET_FLEET_URL (agrifleet demo prints an export line that "
                           "sets it and AGRIFLEET_TOKEN)")
    code, _, err = _run(capsys, "rollout", "list", "--fleet", f"http://127.0.0.1:{free_port()}",
                        "--token", "agf_x")
    assert code == 1 and "cannot reach the fleet" in err
