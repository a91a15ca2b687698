"""Rollout limits specify: failures within the error limit continue and above it halt (naming
the devices, withdrawing offers not taken up, optionally offering the previous version back);
a shadow figure past the gate pauses with the limit and the devices; approval waits."""

from __future__ import annotations

from tests.base_model import BASE_VERSION
from tests.fleet.modelops.rollouts.conftest import OLD, Fleet, offers_at_broker

IDS = [f"d{i:02d}" for i in range(10)]
GOOD = {"images": 20, "agreement": 0.97, "mean_confidence": 0.9, "uncertain_rate": 0.05,
        "latency_ms": 30.0}


def test_failures_within_the_limit_continue_above_it_halt(rollouts: Fleet) -> None:
    rollouts.devices(*IDS)
    rid = rollouts.start(targets={"devices": IDS}, phases=[30, 60, 100], max_failures=1)["id"]
    rollouts.report(rid, "d00", "failed", reason="selftest_failed: 3/31 images")
    rollouts.succeed(rid, "d01", "d02")
    status = rollouts.status(rid)
    assert status["state"] == "running" and status["phase"] == 1  # 1 failure ≤ 1: continue
    rollouts.report(rid, "d03", "failed", reason="selftest_failed: 5/31 images")
    rollouts.report(rid, "d04", "downloading")
    status = rollouts.status(rid)
    assert status["state"] == "halted"
    assert status["reason"].startswith("error limit: 2 failed, above max_failures 1")
    assert "d00 (selftest_failed" in status["reason"] and "d03" in status["reason"]
    states = rollouts.states(status)
    assert states["d05"] == "pending"  # its offer, not taken up, was withdrawn
    assert states["d04"] == "downloading"  # under way: left to finish
    assert all(s == "pending" for d, s in states.items() if d >= "d06")  # never offered
    offers = offers_at_broker(rollouts.broker)
    assert offers.get("d05") is None and offers.get("d04") is not None
    assert all(offers.get(d) is None for d in IDS[6:])


def test_a_percentage_limit_counts_offered_devices(rollouts: Fleet) -> None:
    rollouts.devices(*IDS)
    rid = rollouts.start(targets={"devices": IDS}, phases=[100], max_failure_pct=20)["id"]
    rollouts.report(rid, "d00", "failed", reason="x")
    rollouts.report(rid, "d01", "rolled_back", reason="crashed after switch")
    assert rollouts.status(rid)["state"] == "running"  # 2 of 10 = 20 %: not above
    rollouts.report(rid, "d02", "failed", reason="x")
    status = rollouts.status(rid)
    assert status["state"] == "halted" and "max_failure_pct 20%" in status["reason"]


def test_halt_with_rollback_offers_the_previous_version(rollouts: Fleet) -> None:
    rollouts.devices("a", "b", "c")
    rid = rollouts.start(targets={"devices": ["a", "b", "c"]}, rollback_on_halt=True)["id"]
    rollouts.succeed(rid, "a")
    rollouts.report(rid, "b", "failed", reason="shadow crashed")
    status = rollouts.status(rid)
    assert status["state"] == "halted"
    offers = offers_at_broker(rollouts.broker)
    back = offers["a"]
    assert back is not None and back.rollback and back.version == BASE_VERSION
    assert offers.get("b") is None  # failed and still on its old model: nothing to undo
    rollouts.report(rid, "a", "active", version=BASE_VERSION, active=OLD)
    status = rollouts.status(rid)
    assert rollouts.states(status)["a"] == "rolled_back"
    assert any(e["action"] == "rollback"
               and f"a: offered leaf-disease {BASE_VERSION}" in e["detail"]
               for e in status["events"])


def test_a_gate_miss_pauses_with_the_limit_and_devices_and_resume_accepts_it(
    rollouts: Fleet
) -> None:
    rollouts.devices(*IDS[:4])
    rid = rollouts.start(targets={"devices": IDS[:4]}, phases=[50, 100],
                         limits={"min_agreement": 0.9, "max_latency_ms": 100})["id"]
    offer = offers_at_broker(rollouts.broker)["d00"]
    assert offer is not None and offer.limits.min_agreement == 0.9
    rollouts.succeed(rid, "d00", gate=GOOD)
    rollouts.report(rid, "d01", "failed", reason="shadow: agreement 0.41 < 0.9",
                    gate={**GOOD, "agreement": 0.41})
    status = rollouts.status(rid)
    assert status["state"] == "paused"
    assert status["reason"] == "quality gate: min_agreement 0.9 missed on d01 (0.41)"
    assert rollouts.states(status)["d02"] == "pending"
    rollouts.status(rid)  # stays paused
    status = rollouts.act(rid, "resume", note="field photos were blurred")
    rollouts.status(rid)
    status = rollouts.status(rid)
    assert status["state"] == "running"
    assert rollouts.states(status)["d02"] == "offered"


def test_approval_waits_between_phases(rollouts: Fleet) -> None:
    rollouts.devices("a", "b")
    rid = rollouts.start(targets={"devices": ["a", "b"]}, phases=[50, 100], approval=True)["id"]
    rollouts.succeed(rid, "a")
    status = rollouts.status(rid)
    assert status["state"] == "paused" and status["awaiting_approval"]
    assert "waiting for approval of phase 2" in status["reason"]
    assert rollouts.states(rollouts.status(rid))["b"] == "pending"
    refused = rollouts.fleet.client.post(f"/api/v1/rollouts/{rid}/resume",
                                         headers=rollouts.technician)
    assert refused.status_code == 409 and "approve" in refused.text
    status = rollouts.act(rid, "approve")
    assert rollouts.states(status)["b"] == "offered" and status["state"] == "running"
