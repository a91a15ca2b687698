"""The rollout engine: a thread in the fleet process that moves rollouts along.

Each tick, for every unfinished rollout: read the nodes' new update reports (``ModelUpdate``
rows with an id above the last one read), fail devices stuck in a state past its timeout, then
hold (quality gate → paused), stop (error limit → halted) or advance a phase. Offers are
published retained on each device's offer topic after the database commit; an empty retained
payload withdraws one. People's actions (pause, resume, abort, approve) take the same lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from agrifleet.contract import GateLimits, ModelOffer, offer_topic
from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.modelops.registry.downloads import issue_token, package_url, revoke_tokens
from agrifleet.fleet.modelops.registry.publish import find
from agrifleet.fleet.modelops.registry.tables import ModelPackage
from agrifleet.fleet.modelops.rollouts.gate import (
    error_report,
    gate_misses,
    gate_report,
    is_failure,
)
from agrifleet.fleet.modelops.rollouts.plan import ACTIVE_STATES, PlanError, plan_rollout
from agrifleet.fleet.modelops.rollouts.schemas import RolloutCreate
from agrifleet.fleet.modelops.rollouts.tables import (
    DONE,
    IN_PROGRESS,
    Rollout,
    RolloutDevice,
    RolloutEvent,
)
from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.telemetry.queries import is_online
from agrifleet.fleet.telemetry.tables import ModelUpdate

log = logging.getLogger(__name__)

#: publish(topic, payload, retain): the fleet's MQTT client, QoS 1.
Publish = Callable[[str, bytes, bool], None]
#: How long an offer's download token stays valid.
OFFER_VALID = timedelta(days=30)
ENGINE = "engine"
REPORTS_PER_TICK = 5000


class RolloutEngine:
    """Owns every change to rollouts; the API calls its actions, its thread calls tick()."""

    def __init__(self, settings: FleetSettings, engine: Engine, publish: Publish) -> None:
        self.settings = settings
        self.engine = engine
        self.publish = publish
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._outgoing: list[tuple[str, bytes]] = []

    # --- the thread ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fleet-rollouts", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.settings.rollout_tick_s):
            try:
                self.tick()
            except Exception:  # a database outage must not end the engine
                log.warning("rollout engine tick failed; retrying", exc_info=True)

    # --- people's actions ---------------------------------------------------------------

    def create(self, body: RolloutCreate, actor: str) -> int:
        """Plan a rollout and offer its first phase; its id. PlanError if it cannot be."""
        with self._transaction() as session:
            package = find(session, body.model, body.version)
            if package is None:
                raise PlanError(404, f"no package {body.model} {body.version} in the registry")
            rollout = plan_rollout(session, body, package, actor)
            rid = rollout.id or 0
            self._event(session, rid, actor, "start",
                        f"{package.name} {package.version}, phases {body.phases}")
            self._offer_phase(session, rollout, package, 0)
            session.commit()
        self._flush()
        return rid

    def act(self, rollout_id: int, action: str, actor: str, note: str = "") -> None:
        """pause, resume, abort or approve; PlanError (404, 409) when it does not apply."""
        with self._transaction() as session:
            rollout = session.get(Rollout, rollout_id)
            if rollout is None:
                raise PlanError(404, f"no rollout {rollout_id}")
            getattr(self, f"_{action}")(session, rollout, actor)
            if note and action in ("pause", "abort"):  # the why, wherever the state is shown
                rollout.reason = f"{rollout.reason}: {note}"
            self._event(session, rollout_id, actor, action, note)
            rollout.updated_at = datetime.now(UTC)
            session.add(rollout)
            session.commit()
        self._flush()

    def _pause(self, session: Session, r: Rollout, actor: str) -> None:
        if r.state != "running":
            raise PlanError(409, f"rollout {r.id} is {r.state}; only a running one can pause")
        r.state, r.reason = "paused", f"paused by {actor}"

    def _resume(self, session: Session, r: Rollout, actor: str) -> None:
        if r.state not in ("paused", "halted"):
            raise PlanError(409, f"rollout {r.id} is {r.state}; only a paused or halted one "
                            "can resume")
        if r.awaiting_approval:
            raise PlanError(409, f"rollout {r.id} waits for approval of the next phase: approve")
        devices = self._devices(session, r)
        for rd in devices:  # what held it is accepted by the person resuming
            if is_failure(rd) or gate_misses(rd.gate, r.limits):
                rd.waived = True
                session.add(rd)
        r.state, r.reason = "running", None
        package = session.get(ModelPackage, r.package_id)
        if package is not None:
            for phase in range(r.phase + 1):
                self._offer_phase(session, r, package, phase, record=False)

    def _approve(self, session: Session, r: Rollout, actor: str) -> None:
        if not r.awaiting_approval:
            raise PlanError(409, f"rollout {r.id} is not waiting for approval")
        package = session.get(ModelPackage, r.package_id)
        if package is None:
            raise PlanError(409, f"the package of rollout {r.id} is gone from the registry")
        r.awaiting_approval, r.state, r.reason = False, "running", None
        r.phase += 1
        self._offer_phase(session, r, package, r.phase)

    def _abort(self, session: Session, r: Rollout, actor: str) -> None:
        if r.state in ("completed", "aborted"):
            raise PlanError(409, f"rollout {r.id} is already {r.state}")
        for rd in self._devices(session, r):
            self._withdraw(rd.device_id)
            if rd.state not in DONE:
                rd.reason = f"offer withdrawn: rollout aborted by {actor}"
                if rd.state == "offered":
                    rd.state = "pending"
                session.add(rd)
        revoke_tokens(session, r.id or 0)
        r.state, r.reason, r.awaiting_approval = "aborted", f"aborted by {actor}", False

    # --- the engine's work --------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> None:
        """One pass over every unfinished rollout."""
        now = now or datetime.now(UTC)
        with self._transaction() as session:
            rollouts = session.exec(
                select(Rollout).where(col(Rollout.state).in_(ACTIVE_STATES))
                .order_by(col(Rollout.id))
            ).all()
            for r in rollouts:
                self._step(session, r, now)
            session.commit()
        self._flush()

    def _step(self, session: Session, r: Rollout, now: datetime) -> None:
        package = session.get(ModelPackage, r.package_id)
        devices = {rd.device_id: rd for rd in self._devices(session, r)}
        self._read_reports(session, r, package, devices, now)
        self._expire(session, r, devices, now)
        if r.state != "running" or package is None:
            return
        listed = list(devices.values())
        held = gate_report(r, listed)
        if held is not None:
            self._hold(session, r, "paused", held, now)
            return
        stopped = error_report(r, listed)
        if stopped is not None:
            self._halt(session, r, listed, stopped, now)
            return
        self._advance(session, r, package, listed, now)

    def _read_reports(self, session: Session, r: Rollout, package: ModelPackage | None,
                      devices: dict[str, RolloutDevice], now: datetime) -> None:
        reports = session.exec(
            select(ModelUpdate)
            .where(ModelUpdate.rollout_id == r.id, col(ModelUpdate.id) > r.last_update_id)
            .order_by(col(ModelUpdate.id)).limit(REPORTS_PER_TICK)
        ).all()
        for report in reports:
            r.last_update_id = report.id or r.last_update_id
            rd = devices.get(report.device_id)
            if rd is None or rd.state == "pending":
                continue
            self._apply(session, r, package, rd, report, now)
        if reports:
            session.add(r)

    def _apply(self, session: Session, r: Rollout, package: ModelPackage | None,
               rd: RolloutDevice, report: ModelUpdate, now: datetime) -> None:
        """One node report: the device's new state (success only with the expected sha256)."""
        previous = rd.previous or {}
        expected_version = previous.get("version") if rd.rollback else r.version
        if report.version != expected_version:
            return  # a late report about the other direction of a rollback
        state, reason = report.state, report.reason
        if rd.state in DONE and state not in DONE:
            return  # a replayed or forged step cannot reopen a finished device
        if state == "active":
            want = previous if rd.rollback else (
                {"name": r.model, "version": r.version, "sha256": package.model_sha256}
                if package else {})
            runs = report.active or {}
            keys = ("name", "version", "sha256")
            if not want or any(runs.get(k) != want.get(k) for k in keys):
                state = "failed"
                reason = (f"reported active but runs {runs.get('name')} {runs.get('version')} "
                          f"sha256 {str(runs.get('sha256'))[:12]}, expected {want.get('version')} "
                          f"sha256 {str(want.get('sha256'))[:12]}")
            elif rd.rollback:
                state = "rolled_back"
        if state != rd.state:  # the timeout of the new state runs from when it was reported
            rd.state_since, rd.waited_online_s = min(report.stored_at, now), 0.0
        rd.state, rd.reason = state, reason
        rd.bytes_done = report.bytes_done if report.bytes_done is not None else rd.bytes_done
        rd.bytes_total = report.bytes_total if report.bytes_total is not None else rd.bytes_total
        rd.gate = report.gate or rd.gate
        rd.active = report.active or rd.active
        rd.updated_at = now
        session.add(rd)
        if state in DONE:
            self._finish_device(session, r, rd)

    def _finish_device(self, session: Session, r: Rollout, rd: RolloutDevice) -> None:
        self._withdraw(rd.device_id)
        revoke_tokens(session, r.id or 0, rd.device_id)

    def _timeout(self, r: Rollout, state: str) -> float:
        base = r.timeout_s or self.settings.rollout_timeout_s
        if state == "offered":
            return r.timeout_s or self.settings.rollout_offer_timeout_s
        return base + r.shadow_max_s if state == "shadow" else base

    def _expire(self, session: Session, r: Rollout, devices: dict[str, RolloutDevice],
                now: datetime) -> None:
        """Fail devices past their state's timeout; the offered state counts only online time."""
        waiting = [rd for rd in devices.values() if rd.state in IN_PROGRESS]
        if not waiting:
            return
        online = {d.id: is_online(d, self.settings.offline_after_s) for d in session.exec(
            select(Device).where(col(Device.id).in_([rd.device_id for rd in waiting])))}
        for rd in waiting:
            if rd.state == "offered":
                if online.get(rd.device_id):
                    rd.waited_online_s += max(0.0, (now - rd.updated_at).total_seconds())
                rd.updated_at = now
                expired = rd.waited_online_s > self._timeout(r, "offered")
            else:
                expired = (now - rd.state_since).total_seconds() > self._timeout(r, rd.state)
            if expired:
                reason = f"timeout in {rd.state}"
                rd.state, rd.reason, rd.state_since = "failed", reason, now
                self._event(session, r.id or 0, ENGINE, "timeout", f"{rd.device_id}: {reason}")
                self._finish_device(session, r, rd)
            session.add(rd)

    def _hold(self, session: Session, r: Rollout, state: str, reason: str,
              now: datetime) -> None:
        r.state, r.reason, r.updated_at = state, reason, now
        session.add(r)
        self._event(session, r.id or 0, ENGINE, state, reason)
        log.warning("rollout %s %s: %s", r.id, state, reason)

    def _halt(self, session: Session, r: Rollout, devices: list[RolloutDevice], reason: str,
              now: datetime) -> None:
        self._hold(session, r, "halted", reason, now)
        for rd in devices:
            if rd.state == "offered" and not rd.rollback:  # not started: withdraw
                self._withdraw(rd.device_id)
                revoke_tokens(session, r.id or 0, rd.device_id)
                rd.state, rd.reason = "pending", "offer withdrawn: rollout halted"
                session.add(rd)
        if r.rollback_on_halt:
            self._roll_back(session, r, devices, now)

    def _roll_back(self, session: Session, r: Rollout, devices: list[RolloutDevice],
                   now: datetime) -> None:
        """Offer the version each updated or failed device ran before, as an explicit rollback."""
        for rd in devices:
            prev = rd.previous or {}
            runs = (rd.active or {}).get("sha256")
            updated = rd.state == "active"
            broken = rd.state == "failed" and runs is not None and runs != prev.get("sha256")
            if rd.rollback or not (updated or broken):
                continue
            package = find(session, str(prev.get("name")), str(prev.get("version"))) \
                if prev else None
            if package is None:
                self._event(session, r.id or 0, ENGINE, "rollback",
                            f"{rd.device_id}: cannot roll back, its previous model "
                            f"{prev.get('name')} {prev.get('version')} is not in the registry")
                continue
            rd.rollback = True
            self._send_offer(session, r, package, rd, now, rollback=True)
            self._event(session, r.id or 0, ENGINE, "rollback",
                        f"{rd.device_id}: offered {package.name} {package.version}")

    def _advance(self, session: Session, r: Rollout, package: ModelPackage,
                 devices: list[RolloutDevice], now: datetime) -> None:
        """Next phase once this one is done: every device done but offline ones not started."""
        online = {d.id: is_online(d, self.settings.offline_after_s)
                  for d in session.exec(select(Device).where(
                      col(Device.id).in_([rd.device_id for rd in devices])))}
        current = [rd for rd in devices if rd.phase == r.phase]
        busy = [rd for rd in current if rd.state in IN_PROGRESS
                and (rd.state != "offered" or online.get(rd.device_id))]
        if busy:
            return
        if current and not any(rd.state == "active" for rd in current):
            return  # only offline devices left: no evidence yet that the model works
        last = len(r.phases) - 1
        if r.phase >= last:
            waiting = [rd.device_id for rd in devices if rd.state not in DONE]
            if waiting:
                reason = f"waiting for {len(waiting)} offline device(s): {', '.join(waiting[:20])}"
                if r.reason != reason:
                    r.reason = reason
                    session.add(r)
                return
            r.state, r.reason, r.updated_at = "completed", None, now
            session.add(r)
            self._event(session, r.id or 0, ENGINE, "completed",
                        f"{sum(rd.state == 'active' for rd in devices)} active")
            return
        if r.approval:
            r.awaiting_approval = True
            self._hold(session, r, "paused",
                       f"phase {r.phase + 1} of {last + 1} done: waiting for approval "
                       f"of phase {r.phase + 2}", now)
            return
        r.phase += 1
        r.updated_at = now
        session.add(r)
        self._offer_phase(session, r, package, r.phase)

    # --- offers -------------------------------------------------------------------------

    def _offer_phase(self, session: Session, r: Rollout, package: ModelPackage, phase: int,
                     record: bool = True) -> None:
        now = datetime.now(UTC)
        pending = [rd for rd in self._devices(session, r)
                   if rd.phase == phase and rd.state == "pending"]
        for rd in pending:
            self._send_offer(session, r, package, rd, now)
        if record:
            self._event(session, r.id or 0, ENGINE, "offer",
                        f"phase {phase + 1}: {len(pending)} device(s)")

    def _send_offer(self, session: Session, r: Rollout, package: ModelPackage,
                    rd: RolloutDevice, now: datetime, rollback: bool = False) -> None:
        expires = now + OFFER_VALID
        token = issue_token(session, rd.device_id, package.id or 0, r.id or 0, expires)
        offer = ModelOffer(
            rollout_id=r.id or 0, name=package.name, version=package.version,
            sha256=package.sha256, size=package.size,
            url=package_url(self.settings, package.name, package.version), token=token,
            expires=expires, rollback=rollback, shadow_images=0 if rollback else r.shadow_images,
            shadow_max_s=r.shadow_max_s,
            limits=GateLimits() if rollback else GateLimits.model_validate(r.limits),
        )
        rd.state, rd.reason, rd.state_since, rd.updated_at = "offered", None, now, now
        rd.waited_online_s = 0.0
        session.add(rd)
        self._outgoing.append((offer_topic(self.settings.mqtt_prefix, rd.device_id),
                               offer.model_dump_json().encode()))

    def _withdraw(self, device_id: str) -> None:
        self._outgoing.append((offer_topic(self.settings.mqtt_prefix, device_id), b""))

    def _flush(self) -> None:
        """Publish what the committed transaction decided (called with the lock released)."""
        with self.lock:
            outgoing, self._outgoing = self._outgoing, []
        for topic, payload in outgoing:
            self.publish(topic, payload, True)

    # --- helpers ------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """A session under the lock; offers queued in a transaction that fails are dropped."""
        with self.lock, Session(self.engine) as session:
            try:
                yield session
            except BaseException:
                self._outgoing.clear()
                raise

    @staticmethod
    def _devices(session: Session, r: Rollout) -> list[RolloutDevice]:
        return list(session.exec(
            select(RolloutDevice).where(RolloutDevice.rollout_id == r.id)
            .order_by(col(RolloutDevice.device_id))
        ))

    @staticmethod
    def _event(session: Session, rollout_id: int, actor: str, action: str, detail: str) -> None:
        session.add(RolloutEvent(rollout_id=rollout_id, actor=actor, action=action,
                                 detail=detail[:2048]))
