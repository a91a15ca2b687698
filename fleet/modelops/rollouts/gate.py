"""The quality gate and the error limit: which devices miss which limit."""

from __future__ import annotations

from typing import Any

from agrifleet.fleet.modelops.rollouts.tables import Rollout, RolloutDevice


def gate_misses(gate: dict[str, Any] | None,
                limits: dict[str, Any]) -> list[tuple[str, float, float]]:
    """Each limit the shadow figures miss, as (limit name, limit, figure)."""
    if not gate:
        return []
    checks = [
        ("min_agreement", "agreement", lambda got, lim: got < lim),
        ("min_mean_confidence", "mean_confidence", lambda got, lim: got < lim),
        ("max_uncertain_rate", "uncertain_rate", lambda got, lim: got > lim),
        ("max_latency_ms", "latency_ms", lambda got, lim: got > lim),
    ]
    misses = []
    for limit, figure, missed in checks:
        lim, got = limits.get(limit), gate.get(figure)
        if lim is not None and got is not None and missed(float(got), float(lim)):
            misses.append((limit, float(lim), float(got)))
    return misses


def is_failure(rd: RolloutDevice) -> bool:
    """Failed (or rolled itself back) on the way to the new model, and not waived by a resume."""
    return not rd.waived and not rd.rollback and rd.state in ("failed", "rolled_back")


def gate_report(rollout: Rollout, devices: list[RolloutDevice]) -> str | None:
    """Why the gate holds the rollout, naming limits and devices; None when it does not."""
    by_limit: dict[str, list[str]] = {}
    for rd in devices:
        if rd.waived or rd.rollback:
            continue
        for limit, _, got in gate_misses(rd.gate, rollout.limits):
            by_limit.setdefault(limit, []).append(f"{rd.device_id} ({got:.3g})")
    if not by_limit:
        return None
    parts = [f"{limit} {rollout.limits[limit]:g} missed on " + ", ".join(found[:20])
             for limit, found in sorted(by_limit.items())]
    return "quality gate: " + "; ".join(parts)


def error_report(rollout: Rollout, devices: list[RolloutDevice]) -> str | None:
    """Why the error limit halts the rollout; None while failures are within it."""
    failed = [rd for rd in devices if is_failure(rd) and not gate_misses(rd.gate, rollout.limits)]
    if rollout.max_failure_pct is not None:
        offered = sum(1 for rd in devices if rd.state != "pending" or rd.reason)
        over = len(failed) * 100 > rollout.max_failure_pct * max(offered, 1)
        limit = f"max_failure_pct {rollout.max_failure_pct:g}% of {offered} offered"
    else:
        over = len(failed) > (rollout.max_failures or 0)
        limit = f"max_failures {rollout.max_failures or 0}"
    if not over:
        return None
    listed = ", ".join(f"{rd.device_id} ({rd.reason or rd.state})" for rd in failed[:20])
    return f"error limit: {len(failed)} failed, above {limit}: {listed}"
