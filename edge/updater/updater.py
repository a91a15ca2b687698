"""The node's updater: takes the fleet's model offers and installs them without bricking the node.

One thread works on one offer at a time: download (resumable) → verify (size, sha256, then
unpack safely and check the signature and the upgrade rule) → self-test → shadow beside the
current model → atomic switch (state.json) in trial → confirmed by the first classification or
``confirm_after_s`` of uptime → ``active``. A model that does not load, a failed self-test or
shadow gate, or ``max_trial_starts`` starts in trial without confirmation send the node back to
the model it had. Every step is an Update item in the durable outbox.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agrifleet.contract import GateFigures, ModelOffer, ModelRef, UpdateState
from agrifleet.edge.config import UpdatesConfig
from agrifleet.edge.inference.slot import ModelSlot
from agrifleet.edge.items import Emit, Priority
from agrifleet.edge.updater import download
from agrifleet.edge.updater.install import InstallFailed, place, selftest, unpack_and_verify
from agrifleet.edge.updater.shadow import ShadowFailed, run_shadow
from agrifleet.edge.updater.state import (
    Installed,
    Job,
    Outcome,
    StateFile,
    Trial,
    UpdaterState,
    installed_from,
)
from agrifleet.edge.updater.store import ModelStore
from agrifleet.manifest import Manifest, ModelError, read_manifest

log = logging.getLogger(__name__)

#: Downloading progress is reported at these fractions (and at the start).
PROGRESS_MARKS = (0.25, 0.5, 0.75, 1.0)


class _Cancelled(Exception):
    """The offer was withdrawn or replaced, or the agent is stopping."""


class _Failed(Exception):
    def __init__(self, reason: str, gate: GateFigures | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.gate = gate


class Updater:
    """Installs offered models into ``data_dir/models`` and points ``slot`` at the current one."""

    def __init__(self, config: UpdatesConfig, data_dir: Path, emit: Emit, slot: ModelSlot,
                 configured_model: Path, *, cameras: bool = True,
                 now: Callable[[], datetime] | None = None) -> None:
        self.config = config
        #: False on a node without cameras: no live photo can ever reach the shadow period.
        self.cameras = cameras
        self.store = ModelStore(data_dir)
        self.work_dir = self.store.work_dir
        self._file = StateFile(self.work_dir)
        self._emit = emit
        self._slot = slot
        self._configured = configured_model
        self._lock = threading.RLock()
        self._state = UpdaterState()
        self._stop = threading.Event()
        self._cancel = threading.Event()
        self._wake = threading.Event()
        self._pending: ModelOffer | None = None
        self._running: ModelOffer | None = None
        self._has_pending = False
        self._thread: threading.Thread | None = None
        self._booted_at = time.monotonic()
        self._trusted: dict[str, Any] | None = None
        self._now = now or (lambda: datetime.now(UTC))
        self._configured_ref: ModelRef | None = None
        # Offers whose final report went to the outbox since this start: (rollout id, sha256).
        self._reported: set[tuple[int, str]] = set()
        #: Called (on the updater's or a camera's thread) when the active model changed.
        self.on_change: Callable[[], object] | None = None

    # -- what the node runs ----------------------------------------------------------------

    @property
    def state(self) -> UpdaterState:
        with self._lock:
            return self._state.model_copy(deep=True)

    def active(self) -> ModelRef | None:
        """The model the cameras run (the configured one when no update was installed)."""
        with self._lock:
            current = self._state.current
        if current is not None:
            return current.ref
        if self._configured_ref is None:
            found = installed_from(self._configured)
            self._configured_ref = found.ref if found is not None else None
        return self._configured_ref

    def previous(self) -> ModelRef | None:
        with self._lock:
            return self._state.previous.ref if self._state.previous is not None else None

    # -- life cycle ------------------------------------------------------------------------

    def boot(self) -> None:
        """Read the state, count a start in trial (rolling back a crash loop), set the slot.

        Call before the cameras start, so that their first photo already uses the right model.
        """
        with self._lock:
            state = self._state = self._file.load()
            self._booted_at = time.monotonic()
            if state.current is not None and installed_from(state.current.path) != state.current:
                self._roll_back(f"model {state.current.version} at {state.current.path} is "
                                "damaged or missing")
            elif state.trial is not None and state.current is not None:
                state.trial.starts += 1
                if state.trial.starts > self.config.max_trial_starts:
                    self._roll_back(f"the agent started {state.trial.starts - 1} times with "
                                    f"{state.current.version} without confirming it (crash loop)")
                else:
                    self._save()
                    log.info("model %s in trial: start %d of at most %d", state.current.version,
                             state.trial.starts, self.config.max_trial_starts)
            current = self._state.current
            self._slot.set_model(current.path if current is not None else None)
            self.store.tidy(self._state.job.offer if self._state.job else None, self._in_use())
        self._slot.on_load_failed = self._load_failed
        self._slot.on_classified = self._classified

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="updater", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._cancel.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def on_offer(self, payload: bytes) -> None:
        """The link's handler for the offer topic (on the MQTT thread: never blocks)."""
        offer: ModelOffer | None = None
        if payload.strip():
            try:
                offer = ModelOffer.model_validate_json(payload)
            except ValidationError as exc:
                log.warning("ignoring a malformed model offer: %s",
                            str(exc).splitlines()[0] if str(exc) else exc)
                return
        with self._lock:
            working = self._pending if self._has_pending else self._running
            if offer is not None and working is not None and _same(offer, working):
                return  # the retained offer again (reconnect): keep going
            self._pending, self._has_pending = offer, True
            self._cancel.set()  # a withdrawn or replaced offer stops the one under way
            self._wake.set()
        log.info("model offer %s", "withdrawn" if offer is None else
                 f"{offer.name} {offer.version} (rollout {offer.rollout_id})")

    # -- the worker thread -----------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            self._confirm_by_uptime()
            with self._lock:
                if not self._has_pending:
                    continue
                offer, self._has_pending = self._pending, False
                self._running = offer
                self._cancel.clear()
            try:
                if offer is None:
                    self._drop_job()
                else:
                    self.handle(offer)
            except Exception:  # never let the updater thread die
                log.exception("updater: unexpected error")
            finally:
                with self._lock:
                    self._running = None

    def handle(self, offer: ModelOffer) -> None:
        """Work on one offer to its end (the updater thread's body; tests call it directly)."""
        with self._lock:
            last, job, trial = self._state.last, self._state.job, self._state.trial
        if last is not None and (last.rollout_id, last.sha256) == (offer.rollout_id, offer.sha256):
            # This offer is done (active, failed or rolled back): the retained copy. The fleet
            # withdraws it once it has the final report, so a copy after a restart may mean the
            # report was lost (the agent stopped after saving the outcome, before the report
            # was in the outbox): it goes again, once per start.
            if (last.rollout_id, last.sha256) not in self._reported:
                self._reported.add((last.rollout_id, last.sha256))
                self._report(offer, last.state, reason=last.reason)
            return
        if trial is not None and (trial.rollout_id, trial.sha256) == (offer.rollout_id,
                                                                      offer.sha256):
            return  # switched, waiting for confirmation
        if job is not None and not _same(job.offer, offer):
            self._drop_job()
        running = self.active()
        if offer.rollback and running is not None and (running.name, running.version) == (
                offer.name, offer.version):
            self._finish(offer, "active", None)  # sent back to where it already is
            return
        problem = self._refuse_early(offer)
        if problem is not None:
            self._finish(offer, "failed", problem)
            return
        try:
            try:
                self._install(offer)
            except OSError as exc:  # a full or read-only disk: give up cleanly, say why
                raise _Failed(f"disk: {exc.strerror or exc} "
                              f"({exc.filename or self.work_dir})") from None
        except _Cancelled:
            if self._stop.is_set():
                log.info("updater stopping; %s %s resumes at the next start", offer.name,
                         offer.version)
            else:
                self._drop_job()
        except _Failed as exc:
            self.store.clean(offer, self._in_use())
            try:
                self._finish(offer, "failed", exc.reason, gate=exc.gate)
            except OSError as err:  # even the state file cannot be written: report anyway
                log.error("cannot save the updater state: %s", err)
                self._report(offer, "failed", reason=exc.reason, gate=exc.gate)

    def _refuse_early(self, offer: ModelOffer) -> str | None:
        """Why the offer cannot be taken before a byte is fetched (None: go ahead)."""
        if offer.expires <= self._now():
            return "the offer expired before the node could take it"
        return self.store.room_for(offer)

    def _install(self, offer: ModelOffer) -> None:
        with self._lock:
            if self._state.job is None:
                self._state.job = Job(offer=offer)
                self._save()
        archive = self._download(offer)
        self._report(offer, "verifying")
        current_manifest = self._current_manifest()
        try:
            manifest = unpack_and_verify(archive, offer, self.store.staging(offer),
                                         self._trusted_keys(), current_manifest, self._now())
            target = place(self.store.staging(offer), self.store.target(manifest),
                           self._in_use())
        except InstallFailed as exc:
            raise _Failed(exc.reason) from None
        archive.unlink(missing_ok=True)
        self._check_cancel()
        self._report(offer, "selftest")
        problem = selftest(target)
        if problem is not None:
            raise _Failed(problem)
        self._check_cancel()
        self._shadow(offer, target)
        self._switch(offer, target, manifest)

    def _download(self, offer: ModelOffer) -> Path:
        """The complete archive, checked against the offer's size and sha256.

        A resumed download whose result does not match (a partial file damaged by a power cut,
        say) is fetched once more from the start before the update fails.
        """
        self.work_dir.mkdir(parents=True, exist_ok=True)
        part = self.store.part(offer)
        req = download.Request(offer.url, offer.token, offer.size, offer.sha256,
                               self.config.max_kbps, ca_file=self.config.ca_file)
        resumed = part.exists() and part.stat().st_size > 0
        while True:
            resumed = self._fetch(offer, req, part) or resumed
            try:
                download.check_archive(req, part)  # removes the file on a mismatch
                return part
            except download.DownloadFailed as exc:
                if not resumed:
                    raise _Failed(exc.reason) from None
                log.warning("%s; fetching the whole archive again", exc.reason)
                resumed = False

    def _fetch(self, offer: ModelOffer, req: download.Request, part: Path) -> bool:
        """Download until ``part`` is complete, retrying dropped links; True if it resumed."""
        done = part.stat().st_size if part.exists() else 0
        resumed = done > 0
        marks = [m for m in PROGRESS_MARKS if done < m * offer.size]
        self._report(offer, "downloading", bytes_done=done, bytes_total=offer.size)

        def progress(n: int) -> None:
            while marks and n >= marks[0] * offer.size:
                marks.pop(0)
                self._report(offer, "downloading", bytes_done=n, bytes_total=offer.size)

        delay = self.config.retry_min_s
        while True:
            try:
                download.fetch_once(req, part, self._cancel, progress)
                return resumed
            except download.DownloadCancelled:
                raise _Cancelled() from None
            except download.DownloadFailed as exc:
                part.unlink(missing_ok=True)
                raise _Failed(exc.reason) from None
            except download.DownloadInterrupted as exc:
                resumed = True
                if offer.expires <= self._now():
                    raise _Failed(f"the offer expired during the download ({exc})") from None
                log.info("download of %s %s interrupted (%s); retrying in %.0f s", offer.name,
                         offer.version, exc, delay)
                if self._cancel.wait(delay):
                    raise _Cancelled() from None
                delay = min(delay * 2, self.config.retry_max_s)

    def _shadow(self, offer: ModelOffer, target: Path) -> None:
        images, max_s = offer.shadow_images, offer.shadow_max_s
        if "shadow_images" not in offer.model_fields_set and self.config.shadow_images is not None:
            images = self.config.shadow_images
        if "shadow_max_s" not in offer.model_fields_set and self.config.shadow_max_s is not None:
            max_s = self.config.shadow_max_s
        self._report(offer, "shadow")  # figures only once the period ended (0 photos ≠ 0 %)
        try:
            figures = run_shadow(self._slot, target, images, max_s, offer.limits, self._cancel,
                                 cameras=self.cameras)
        except ShadowFailed as exc:
            raise _Failed(exc.reason, exc.figures) from None
        self._check_cancel()
        if figures is not None:
            self._report(offer, "shadow", gate=figures)

    def _switch(self, offer: ModelOffer, target: Path, manifest: Manifest) -> None:
        new = Installed(path=target, name=manifest.name, version=manifest.version,
                        sha256=manifest.sha256)
        with self._lock:
            state = self._state
            state.previous = state.current or installed_from(self._configured)
            state.current = new
            state.trial = Trial(rollout_id=offer.rollout_id, sha256=offer.sha256, starts=1)
            state.job = None
            state.last = None
            self._save()
            self._booted_at = time.monotonic()
        self._slot.set_model(target)
        self._changed()
        self.store.prune(self._in_use())
        log.info("switched to %s %s (in trial until confirmed)", new.name, new.version)

    # -- trial, confirmation and rollback --------------------------------------------------

    def _classified(self, model_dir: Path) -> None:
        with self._lock:
            current = self._state.current
            if self._state.trial is None or current is None or model_dir != current.path:
                return
        self._confirm("first classification with it")

    def _confirm_by_uptime(self) -> None:
        with self._lock:
            if self._state.trial is None:
                return
        if time.monotonic() - self._booted_at >= self.config.confirm_after_s:
            self._confirm(f"{self.config.confirm_after_s:.0f} s of uptime")

    def _confirm(self, why: str) -> None:
        with self._lock:
            state = self._state
            if state.trial is None or state.current is None:
                return
            trial, current = state.trial, state.current
            rollout_id = trial.rollout_id
            state.trial = None
            state.last = Outcome(rollout_id=rollout_id, sha256=trial.sha256, state="active")
            self._save()
        log.info("model %s %s confirmed (%s)", current.name, current.version, why)
        self._changed()
        self._emit_update(rollout_id, current.name, current.version, "active")
        self._reported.add((rollout_id, trial.sha256))

    def _load_failed(self, model_dir: Path, exc: Exception) -> None:
        with self._lock:
            current = self._state.current
            if current is None or model_dir != current.path:
                return
            self._roll_back(f"model {current.version} failed to load: {exc}")
            restored = self._state.current
        self._slot.set_model(restored.path if restored is not None else None)

    def _roll_back(self, reason: str) -> None:
        """Go back to the previous model (the lock is held); report rolled_back with why."""
        state = self._state
        failed = state.current
        done = state.trial or (state.last if state.last and state.last.state == "active" else None)
        rollout_id = done.rollout_id if done is not None else None
        previous = state.previous
        if previous is not None and installed_from(previous.path) != previous:
            previous = None  # damaged too: the configured model is the last resort
        state.current = None if previous is None or previous.path == self._configured else previous
        state.previous = None
        state.trial = None
        if failed is not None and done is not None:
            state.last = Outcome(rollout_id=done.rollout_id, sha256=done.sha256,
                                 state="rolled_back", reason=reason)
        self._save()
        self._changed()
        if failed is not None and rollout_id is not None:
            self._emit_update(rollout_id, failed.name, failed.version, "rolled_back",
                              reason=reason)
            if done is not None:
                self._reported.add((rollout_id, done.sha256))
        # Logged once the report is in the outbox: a crash after this line loses nothing.
        log.error("rolled back: %s", reason)

    # -- helpers ---------------------------------------------------------------------------

    def _finish(self, offer: ModelOffer, state: UpdateState, reason: str | None,
                gate: GateFigures | None = None) -> None:
        with self._lock:
            self._state.job = None
            self._state.last = Outcome(rollout_id=offer.rollout_id, sha256=offer.sha256,
                                       state=state, reason=reason)
            self._save()
        if reason:
            log.warning("update to %s %s %s: %s", offer.name, offer.version, state, reason)
        self._report(offer, state, reason=reason, gate=gate)
        self._reported.add((offer.rollout_id, offer.sha256))

    def _drop_job(self) -> None:
        with self._lock:
            job = self._state.job
            if job is None:
                return
            self._state.job = None
            self._save()
        self.store.clean(job.offer, self._in_use())
        log.info("update to %s %s abandoned: the offer was withdrawn", job.offer.name,
                 job.offer.version)

    def _in_use(self) -> set[Path]:
        with self._lock:
            return {i.path.resolve() for i in (self._state.current, self._state.previous)
                    if i is not None}

    def _current_manifest(self) -> Manifest | None:
        with self._lock:
            current = self._state.current
        try:
            return read_manifest(current.path if current is not None else self._configured)
        except ModelError:
            return None

    def _trusted_keys(self) -> dict[str, Any]:
        if self._trusted is None:
            from agrifleet.package import PackageError, load_public_keys

            try:
                self._trusted = load_public_keys(self.config.trusted_keys)
            except (PackageError, OSError, ValueError) as exc:
                raise _Failed(f"bad_key: the node's trusted keys cannot be read: {exc}") from None
        return self._trusted

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            raise _Cancelled()

    def _save(self) -> None:
        self._file.save(self._state)

    def _report(self, offer: ModelOffer, state: UpdateState, *, reason: str | None = None,
                bytes_done: int | None = None, bytes_total: int | None = None,
                gate: GateFigures | None = None) -> None:
        self._emit_update(offer.rollout_id, offer.name, offer.version, state, reason=reason,
                          bytes_done=bytes_done, bytes_total=bytes_total, gate=gate)

    def _emit_update(self, rollout_id: int, name: str, version: str, state: UpdateState, *,
                     reason: str | None = None, bytes_done: int | None = None,
                     bytes_total: int | None = None, gate: GateFigures | None = None) -> None:
        active = self.active()
        body: dict[str, Any] = {
            "rollout_id": rollout_id, "model": name, "version": version, "state": state,
            "reason": reason[:1024] if reason else None, "bytes_done": bytes_done,
            "bytes_total": bytes_total,
            "gate": gate.model_dump() if gate is not None else None,
            "active": active.model_dump() if active is not None else None,
        }
        try:
            self._emit("update", body, Priority.EVENT)
        except Exception as exc:  # an outbox that refuses must not stop the update
            log.error("cannot record update state %s: %s", state, exc)


def _same(a: ModelOffer, b: ModelOffer) -> bool:
    return (a.rollout_id, a.sha256) == (b.rollout_id, b.sha256)
