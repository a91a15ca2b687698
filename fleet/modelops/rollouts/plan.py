"""Turning a rollout request into devices and phases.

Phase sizes are cumulative: with N target devices (sorted by id), phase *i* ends at device
``min(N, max(min_devices, ceil(pct_i * N / 100)))``. A phase that would add no device is kept
but empty (it is done at once).
"""

from __future__ import annotations

import math

from sqlmodel import Session, col, select

from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.modelops.registry.tables import ModelPackage
from agrifleet.fleet.modelops.rollouts.schemas import RolloutCreate, Targets
from agrifleet.fleet.modelops.rollouts.tables import Rollout, RolloutDevice, RolloutEvent
from agrifleet.package import parse_version

ACTIVE_STATES = ("running", "paused", "halted")


class PlanError(ValueError):
    """The request cannot become a rollout; ``status`` is the HTTP answer (404, 409, 422)."""

    def __init__(self, status: int, message: str, reason: str = "invalid_targets") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


def phase_ends(n: int, phases: list[int], min_devices: int) -> list[int]:
    """The cumulative device count at the end of each phase."""
    ends, last = [], 0
    for pct in phases:
        last = max(last, min(n, max(min_devices, math.ceil(pct * n / 100))))
        ends.append(last)
    return ends


def resolve_targets(session: Session, targets: Targets) -> list[Device]:
    """The registered devices the targets name, sorted by id; PlanError for unknown ids."""
    if targets.devices is not None:
        wanted = sorted(set(targets.devices))
        found = {d.id: d for d in session.exec(select(Device).where(col(Device.id).in_(wanted)))}
        missing = [d for d in wanted if d not in found]
        if missing:
            raise PlanError(404, f"unknown device(s): {', '.join(missing[:10])}")
        return [found[d] for d in wanted]
    devices = list(session.exec(select(Device).order_by(col(Device.id))))
    if targets.tag is not None:
        devices = [d for d in devices if targets.tag in (d.tags or [])]
    if not devices:
        raise PlanError(422, f"no registered device has tag {targets.tag!r}" if targets.tag
                        else "the fleet has no registered devices", "no_devices")
    return devices


def plan_rollout(session: Session, body: RolloutCreate, package: ModelPackage,
                 actor: str) -> Rollout:
    """The rollout and its devices, added to the session (not committed)."""
    devices = resolve_targets(session, body.targets)
    previous = {d.id: (d.health or {}).get("model") for d in devices}
    wrong = [f"{d} runs {m.get('name')}" for d, m in previous.items()
             if m and m.get("name") != package.name]
    skipped: list[str] = []
    if wrong and body.targets.devices is None:
        # "all" or a tag: a device that runs another model (or reports a name the fleet does
        # not know) is not eligible; it is left out and named in the rollout's events.
        skipped = wrong
        devices = [d for d in devices if not _runs_other(previous[d.id], package.name)]
        if not devices:
            raise PlanError(422, f"no targeted device runs {package.name}: "
                            + ", ".join(wrong[:10]), "no_devices")
    elif wrong:
        raise PlanError(422, f"package is {package.name}; " + ", ".join(wrong[:10]),
                        "wrong_model")
    ids = [d.id for d in devices]
    busy = session.exec(
        select(RolloutDevice.device_id, Rollout.id)
        .join(Rollout, col(Rollout.id) == col(RolloutDevice.rollout_id))
        .where(col(Rollout.state).in_(ACTIVE_STATES), col(RolloutDevice.device_id).in_(ids))
    ).all()
    if busy:
        listed = ", ".join(f"{d} (rollout {r})" for d, r in busy[:10])
        raise PlanError(409, f"device(s) already in an unfinished rollout: {listed}")
    newer = [f"{d} runs {m['version']}" for d, m in previous.items()
             if d in ids and m and m.get("name") == package.name
             and _version(m.get("version")) >= parse_version(package.version)]
    if newer:
        raise PlanError(422, f"{package.name} {package.version} is not newer than what these "
                        "devices run: " + ", ".join(newer[:10]), "downgrade")
    rollout = Rollout(
        model=package.name, version=package.version, package_id=package.id or 0,
        targets=body.targets.model_dump(exclude_none=True, exclude_defaults=True) or {"all": True},
        phases=body.phases, min_devices=body.min_devices,
        # No limit given: the first failure halts.
        max_failures=0 if body.max_failures is None and body.max_failure_pct is None
        else body.max_failures,
        max_failure_pct=body.max_failure_pct, rollback_on_halt=body.rollback_on_halt,
        approval=body.approval, shadow_images=body.shadow_images,
        shadow_max_s=body.shadow_max_s, limits=body.limits.model_dump(),
        timeout_s=body.timeout_s, state="running", created_by=actor,
    )
    session.add(rollout)
    session.flush()
    if skipped:
        session.add(RolloutEvent(rollout_id=rollout.id or 0, actor=actor, action="not_eligible",
                                 detail=f"{len(skipped)} device(s) left out: "
                                 + ", ".join(skipped)[:1900]))
    ends = phase_ends(len(devices), body.phases, body.min_devices)
    for i, device in enumerate(devices):
        phase = next(p for p, end in enumerate(ends) if i < end)
        session.add(RolloutDevice(rollout_id=rollout.id or 0, device_id=device.id,
                                  phase=phase, previous=previous[device.id]))
    return rollout


def _runs_other(model: object, name: str) -> bool:
    return isinstance(model, dict) and bool(model) and model.get("name") != name


def _version(text: object) -> tuple[int, int, int]:
    try:
        return parse_version(str(text))
    except ValueError:
        return (-1, -1, -1)
