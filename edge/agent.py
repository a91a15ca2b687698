"""The field agent's composition root: sensors and cameras → outbox → forwarder → MQTT link.

``Agent(config).run()`` blocks until :meth:`Agent.stop` (SIGTERM/SIGINT in ``agrifleet edge
run``); building an Agent does no work, ``run`` opens everything and closes it in reverse.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agrifleet.contract import Health, ModelRef, Status, offer_topic
from agrifleet.edge.cameras import Cameras
from agrifleet.edge.clock import Clock, fast_wall, system_boot_id
from agrifleet.edge.config import AgentConfig
from agrifleet.edge.forwarder import Forwarder
from agrifleet.edge.health import HealthProbe
from agrifleet.edge.inference.slot import ModelSlot
from agrifleet.edge.link import Link, LinkSettings
from agrifleet.edge.notify import Watchdog, notify
from agrifleet.edge.outbox import Outbox
from agrifleet.edge.poller import Poller, RetryPolicy
from agrifleet.edge.sensors import polled_sensors
from agrifleet.edge.updater import Updater
from agrifleet.edge.updater.state import installed_from

log = logging.getLogger(__name__)


def _clock(config: AgentConfig) -> Clock:
    """The wall clock, or a test's fast one (``[clock.simulate]``)."""
    simulate = config.clock.simulate
    wall = time.time if simulate is None else fast_wall(
        simulate.start, simulate.real_start, simulate.scale)
    return Clock(config.clock.synced, wall=wall, check_interval_s=config.clock.check_interval_s)


class Agent:
    """One field node: reads, stores, forwards, reports its health."""

    def __init__(self, config: AgentConfig, *, clock: Clock | None = None,
                 boot_id: str | None = None) -> None:
        self.config = config
        self.clock = clock or _clock(config)
        self.boot_id = boot_id or system_boot_id()
        self._stop = threading.Event()
        self._wake = threading.Event()
        #: Set once run() has opened every part (tests and supervisors wait on it).
        self.started = threading.Event()
        self.outbox: Outbox | None = None
        self.link: Link | None = None
        self.forwarder: Forwarder | None = None
        self.poller: Poller | None = None
        self.health: HealthProbe | None = None
        self._cameras: Cameras | None = None
        #: The model the cameras run; the updater swaps it at run time.
        self.slot = ModelSlot()
        self.updater: Updater | None = None
        self._configured_ref: ModelRef | None = None
        self._model_changed = threading.Event()

    def run(self) -> None:
        """Run until stop(): the table of contents of the node's data flow."""
        try:
            outbox = self.outbox = self._open_outbox()
            self.poller = self._start_polling(outbox)
            self.updater = self._boot_updater(outbox)
            self._cameras = self._start_cameras(outbox)
            self.health = HealthProbe(outbox, self.clock, self.config.outbox_path.parent,
                                      self.poller.errors)
            self.forwarder = self._forwarder(outbox)
            self.link = self._start_link(self.forwarder)
            self.started.set()
            notify("READY=1")
            self._serve()
        finally:
            notify("STOPPING=1")
            self._shutdown()

    def stop(self) -> None:
        """Ask run() to return; safe from signal handlers and other threads."""
        self._stop.set()
        self._wake.set()

    # -- steps ------------------------------------------------------------------------------

    def _open_outbox(self) -> Outbox:
        c = self.config.outbox
        outbox = Outbox.open(
            self.config.outbox_path,
            device_id=self.config.device_id,
            boot_id=self.boot_id,
            clock=self.clock,
            max_bytes=c.max_bytes,
            batch_items=c.batch_items,
            batch_bytes=c.batch_bytes,
            drain_order=c.drain_order,
            memory_bytes=c.memory_bytes,
            retry_s=c.retry_s,
            seq_mark_dir=c.seq_mark_dir,
            on_corrupt=c.on_corrupt,
        )  # a damaged file raises OutboxBroken: `agrifleet edge run` prints it and exits 3
        outbox.on_emit = self._wake.set
        stats = outbox.stats()
        log.info("outbox %s: %d item(s) waiting, next seq %d of boot %s",
                 self.config.outbox_path, stats.depth, outbox.next_seq, self.boot_id)
        return outbox

    def _start_polling(self, outbox: Outbox) -> Poller:
        p = self.config.polling
        poller = Poller(polled_sensors(self.config.sensors), outbox.emit_all,
                        RetryPolicy(p.fail_threshold, p.retry_min_s, p.retry_max_s))
        poller.start()
        return poller

    def _start_cameras(self, outbox: Outbox) -> Cameras | None:
        if not self.config.cameras:
            return None
        cameras = Cameras(self.config.cameras, outbox.emit, self.slot)
        cameras.start()
        return cameras

    def _configured_model(self) -> Path:
        """The model folder the cameras run when no update is installed."""
        for camera in self.config.cameras:
            if camera.model is not None:
                return camera.model
        from agrifleet.models.shipped import default_model_dir

        return default_model_dir()

    def _boot_updater(self, outbox: Outbox) -> Updater | None:
        """With [updates]: read the updater's state (and roll back a crash loop) and start it."""
        if self.config.updates is None:
            return None
        updater = Updater(self.config.updates, self.config.data_dir, outbox.emit, self.slot,
                          self._configured_model(), cameras=bool(self.config.cameras))
        updater.on_change = self._on_model_change
        updater.boot()
        updater.start()
        return updater

    def _forwarder(self, outbox: Outbox) -> Forwarder:
        c = self.config.outbox
        return Forwarder(outbox, self._publish_batch, max_inflight=c.max_inflight,
                         ack_timeout_s=c.ack_timeout_s)

    def _start_link(self, forwarder: Forwarder) -> Link:
        m = self.config.mqtt
        settings = LinkSettings.from_url(
            m.url,
            device_id=self.config.device_id,
            username=self.config.mqtt_username(),
            password=self.config.mqtt_password(),
            prefix=m.prefix,
            keepalive_s=m.keepalive_s,
            ca_file=m.ca_file,
            reconnect_min_s=m.reconnect_min_s,
            reconnect_max_s=m.reconnect_max_s,
        )

        def acked(ack: Any) -> None:
            forwarder.on_ack(ack)
            self._wake.set()

        def disconnected() -> None:
            forwarder.on_disconnected()

        def fleet_back(_: Any) -> None:  # the fleet restarted: what it had not stored goes again
            forwarder.resend_now()
            self._wake.set()

        handlers = {}
        if self.updater is not None:
            handlers[offer_topic(m.prefix, self.config.device_id)] = self.updater.on_offer
        link = Link(settings, status=self._status, on_ack=acked, on_connected=self._wake.set,
                    on_disconnected=disconnected, on_fleet_back=fleet_back,
                    on_fleet_away=lambda _: forwarder.fleet_away(), handlers=handlers)
        link.start()
        return link

    def _serve(self) -> None:
        """Forward batches as items and acks arrive; publish status every status_interval_s."""
        assert self.forwarder is not None and self.link is not None
        next_status = time.monotonic() + self.config.status_interval_s
        watchdog = Watchdog()
        while not self._stop.is_set():
            watchdog.ping()  # systemd restarts an agent whose loop stops coming round
            self._wake.clear()
            if self.link.connected:
                self.forwarder.pump()
                if time.monotonic() >= next_status or self._model_changed.is_set():
                    self._model_changed.clear()  # a switched model shows in the status at once
                    self.link.publish_status()
                    next_status = time.monotonic() + self.config.status_interval_s
            self._wake.wait(1.0)

    def _shutdown(self) -> None:
        if self.outbox is not None:  # nothing to say when the outbox could not even open
            log.info("stopping")
        if self.updater is not None:
            self.updater.stop()
        if self._cameras is not None:
            self._cameras.stop()
        if self.poller is not None:
            self.poller.stop()
        if self.link is not None:
            self.link.stop()
        if self.outbox is not None:
            self.outbox.close()

    # -- callbacks --------------------------------------------------------------------------

    def _on_model_change(self) -> None:
        self._model_changed.set()
        self._wake.set()

    def _publish_batch(self, payload: bytes) -> bool:
        return self.link is not None and self.link.publish_batch(payload)

    def _status(self, state: str) -> bytes:
        online = state == "online"
        status = Status(
            device_id=self.config.device_id,
            boot_id=self.boot_id,
            state="online" if online else "offline",
            ts=datetime.now(UTC) if online else None,  # the last will is written in advance
            health=self._health() if online else None,
        )
        return status.model_dump_json(exclude_none=True).encode()

    def _health(self) -> Health | None:
        """The probe's health with the model the cameras run and the one kept for rollback."""
        if self.health is None:
            return None
        health = self.health.collect().model_copy(
            update={"takes_offers": self.updater is not None})
        if self.updater is not None:
            return health.model_copy(update={"model": self.updater.active(),
                                             "previous_model": self.updater.previous()})
        if self.config.cameras:
            if self._configured_ref is None:
                found = installed_from(self._configured_model())
                self._configured_ref = found.ref if found is not None else None
            return health.model_copy(update={"model": self._configured_ref})
        return health
