"""Rollouts as the API shows them: counts, phases, devices with their online state, events.

A rollout may span farms (a service token's "all"). Shown to someone of some farms only
(``farms``), it holds their farms' devices alone: the counts, phases and targets are theirs,
and events name another farm's device as "a device of another farm".
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Literal

from sqlmodel import Session, col, select

from agrifleet.contract import GateFigures, GateLimits
from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.modelops.rollouts.plan import phase_ends
from agrifleet.fleet.modelops.rollouts.schemas import (
    PhasePublic,
    RolloutDetail,
    RolloutDevicePublic,
    RolloutEventPublic,
    RolloutPublic,
)
from agrifleet.fleet.modelops.rollouts.tables import (
    DONE,
    IN_PROGRESS,
    Rollout,
    RolloutDevice,
    RolloutEvent,
)
from agrifleet.fleet.telemetry.queries import is_online

#: How an event names a device the reader may not see.
OTHER_FARM_DEVICE = "a device of another farm"


def _devices(session: Session, rollout_id: int,
             farms: set[int] | None) -> tuple[list[RolloutDevice], list[str]]:
    """The rollout's devices of ``farms`` (None: all), by id, and the ids of the others."""
    devices = list(session.exec(select(RolloutDevice).where(
        RolloutDevice.rollout_id == rollout_id).order_by(col(RolloutDevice.device_id))))
    if farms is None:
        return devices, []
    theirs = set(session.exec(select(Device.id).where(
        col(Device.id).in_([d.device_id for d in devices]), col(Device.farm_id).in_(farms))))
    return ([d for d in devices if d.device_id in theirs],
            [d.device_id for d in devices if d.device_id not in theirs])


def _hide(text: str, hidden: list[str]) -> str:
    """``text`` with each of the ``hidden`` device ids replaced (whole ids only)."""
    for device_id in sorted(hidden, key=len, reverse=True):
        text = re.sub(rf"(?<![\w.-]){re.escape(device_id)}(?![\w.-])", OTHER_FARM_DEVICE, text)
    return text


def _targets(targets: dict[str, Any], shown: set[str]) -> dict[str, Any]:
    if "devices" not in targets:
        return targets
    return {**targets, "devices": [d for d in targets["devices"] if d in shown]}


def rollout_public(session: Session, r: Rollout, farms: set[int] | None = None) -> RolloutPublic:
    return _public(r, *_devices(session, r.id or 0, farms))


def _public(r: Rollout, devices: list[RolloutDevice], hidden: list[str]) -> RolloutPublic:
    counts = Counter(rd.state for rd in devices)
    reason = _hide(r.reason, hidden) if r.reason and hidden else r.reason
    return RolloutPublic.model_validate(
        {**r.model_dump(), "reason": reason, "counts": dict(sorted(counts.items()))}
    )


def rollout_detail(session: Session, r: Rollout, offline_after_s: int,
                   farms: set[int] | None = None) -> RolloutDetail:
    devices, hidden = _devices(session, r.id or 0, farms)
    shown = {rd.device_id for rd in devices}
    ids = [rd.device_id for rd in devices]
    known = list(session.exec(select(Device).where(col(Device.id).in_(ids))))
    online = {d.id: is_online(d, offline_after_s) for d in known}
    takes_offers = {d.id: (d.health or {}).get("takes_offers") for d in known}
    ends = phase_ends(len(devices), r.phases, r.min_devices)
    phases = []
    for i, pct in enumerate(r.phases):
        members = [rd for rd in devices if rd.phase == i]
        state: Literal["waiting", "offered", "done"] = "waiting" if i > r.phase else (
            "done" if all(rd.state in DONE for rd in members) else "offered")
        phases.append(PhasePublic(
            index=i, percent=pct, state=state,
            devices=len(members) if hidden else ends[i] - (ends[i - 1] if i else 0),
            active=sum(rd.state == "active" for rd in members),
            failed=sum(rd.state in ("failed", "rolled_back") for rd in members),
            in_progress=sum(rd.state in IN_PROGRESS for rd in members),
        ))
    events = session.exec(
        select(RolloutEvent).where(RolloutEvent.rollout_id == r.id).order_by(col(RolloutEvent.id))
    ).all()
    base = _public(r, devices, hidden)
    return RolloutDetail(
        **base.model_dump(),
        targets=_targets(r.targets, shown) if hidden else r.targets,
        phases=phases, min_devices=r.min_devices,
        max_failures=r.max_failures, max_failure_pct=r.max_failure_pct,
        rollback_on_halt=r.rollback_on_halt, approval=r.approval,
        shadow_images=r.shadow_images, shadow_max_s=r.shadow_max_s,
        limits=GateLimits.model_validate(r.limits), timeout_s=r.timeout_s,
        devices=[RolloutDevicePublic(
            device_id=rd.device_id, phase=rd.phase, state=rd.state, reason=rd.reason,
            online=online.get(rd.device_id, False),
            takes_offers=takes_offers.get(rd.device_id), bytes_done=rd.bytes_done,
            bytes_total=rd.bytes_total,
            gate=GateFigures.model_validate(rd.gate) if rd.gate else None,
            previous=rd.previous, active=rd.active, rollback=rd.rollback,
            state_since=rd.state_since,
        ) for rd in devices],
        events=[RolloutEventPublic(ts=e.ts, actor=e.actor, action=e.action,
                                   detail=_hide(e.detail, hidden) if hidden else e.detail)
                for e in events],
    )
