"""Ingest workers: ``agrifleet fleet ingest`` runs MQTT ingestion alone, one of N sharing the load.

The process model (docs/deploy.md):

- ``agrifleet fleet serve``: API and ingestion in one process, the single-machine default.
- ``agrifleet fleet serve --api-only``: the REST API, plus what only one process of a fleet may
  do: the rollout engine (its offers go out on a publish-only MQTT connection of its own). Run
  exactly one such process.
- ``agrifleet fleet ingest --worker ID``: ingestion only, as many as the load needs. Workers
  subscribe to the device filters through one MQTT shared subscription
  (``$share/<AGRIFLEET_MQTT_SHARE_GROUP>/...``), each with a persistent session under its own
  client id ``<AGRIFLEET_MQTT_CLIENT_ID>-ingest-<ID>``; a message is acknowledged to the broker
  only after its commit, so what a killed worker held waits in its session until it restarts
  under the same id (systemd's ``Restart=always``). Each worker publishes the acks of what it
  stored and the fleet's online status, and serves ``/health`` and ``/metrics`` (Prometheus
  text, a viewer token needed) on its own port.

Workers on one PostgreSQL database lock the rows of the devices of a transaction (in id order,
so never a deadlock) before writing, and read the boots' received seqs inside that lock: the
shared subscription hands one device's messages to any worker, and a boot's ranges are merged
read-modify-write. SQLite has one writer at a time: run one ingesting process on it.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sqlmodel
from sqlalchemy import Engine, func, text
from sqlmodel import Session

from agrifleet.fleet.broker import broker_address, fleet_client
from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.metrics import Metrics
from agrifleet.fleet.people.auth import find_token
from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.telemetry import queries
from agrifleet.fleet.telemetry.ingest import Ingestor
from agrifleet.fleet.telemetry.write_lock import SharedDevicesLock
from agrifleet.fleet.telemetry.writer import Writer

log = logging.getLogger(__name__)

#: A worker id names its MQTT session and its log lines: systemd's instance name (%i).
WORKER_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
#: The key of the PostgreSQL advisory lock that lets one process at a time migrate.
MIGRATION_LOCK = 0x61677269_6D696772  # "agrimigr"


def worker_client_id(settings: FleetSettings, worker: str) -> str:
    """The fixed MQTT client id of ingest worker ``worker``: its session outlives a crash."""
    return f"{settings.mqtt_client_id}-ingest-{worker}"


#: A writer that may run next to other workers' writers on one PostgreSQL database.
SharedWriter = partial(Writer, lock=SharedDevicesLock())


def migrate_once(engine: Engine) -> None:
    """Apply migrations, one process at a time on PostgreSQL (workers start together)."""
    from agrifleet.fleet.migrate import upgrade

    if engine.dialect.name != "postgresql":
        upgrade(engine)
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
        try:
            upgrade(engine)
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
            conn.commit()


def retire(settings: FleetSettings, worker: str, timeout: float = 15.0) -> None:
    """End worker ``worker``'s session on the broker, for good (scaling down).

    A persistent session stays a member of the share group while its worker is away, and the
    broker goes on queueing its share of the devices' messages for it. Connecting once under
    its client id with a clean session ends it; what it held unacknowledged the nodes resend
    (they keep every item until an ack names it), and the remaining workers store it.
    """
    import threading as _threading

    address = broker_address(settings, "retiring a worker")
    client = fleet_client(settings, address, worker_client_id(settings, worker),
                          clean_session=True)
    done = _threading.Event()
    refused: list[str] = []

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            refused.append(str(reason))
        done.set()

    client.on_connect = on_connect
    client.connect(address.host, address.port, keepalive=settings.mqtt_keepalive_s)
    client.loop_start()
    try:
        if not done.wait(timeout):
            raise TimeoutError(f"no answer from the broker at {address.safe_url()}")
        if refused:
            raise ConnectionRefusedError(f"the broker refused the fleet: {refused[0]}")
    finally:
        client.disconnect()
        client.loop_stop()


class Publisher:
    """A publish-only MQTT connection: the API process's rollout offers when it ingests nothing."""

    def __init__(self, settings: FleetSettings) -> None:
        self.address = broker_address(settings, "publishing")
        self.client = fleet_client(settings, self.address, f"{settings.mqtt_client_id}-api",
                                   clean_session=True)
        self._keepalive = settings.mqtt_keepalive_s

    def start(self) -> None:
        self.client.connect_async(self.address.host, self.address.port, keepalive=self._keepalive)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes, retain: bool) -> None:
        """QoS 1 (paho queues it while disconnected)."""
        self.client.publish(topic, payload, qos=1, retain=retain)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Worker:
    """One ingest worker: the ingestor on a shared subscription and its health/metrics server."""

    def __init__(self, settings: FleetSettings, engine: Engine, worker: str) -> None:
        if not WORKER_ID.match(worker):
            raise ValueError(f"invalid worker id {worker!r}: 1-32 letters, digits, _ or -")
        self.settings = settings
        self.engine = engine
        self.worker = worker
        self.metrics = Metrics()
        self.started = datetime.now(UTC)
        self.ingestor = Ingestor(
            settings, engine, self.metrics,
            client_id=worker_client_id(settings, worker),
            share_group=settings.mqtt_share_group,
            writer_factory=SharedWriter,
        )  # fmt: skip
        self._server: ThreadingHTTPServer | None = None

    # --- health -------------------------------------------------------------------------

    def health(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, the /health body): connected to the broker, subscribed, writer running."""
        ing = self.ingestor
        healthy = ing.connected and ing.writer_alive
        return healthy, {
            "status": "ok" if healthy else "unavailable",
            "worker": self.worker,
            "client_id": ing.client_id,
            "share_group": ing.share_group,
            "mqtt_connected": ing.connected,
            "writer_alive": ing.writer_alive,
            "queue_depth": ing.queue_depth,
            "started": self.started.isoformat(),
        }

    def render_metrics(self) -> str:
        """The fleet's Prometheus text plus this worker's own gauges."""
        with Session(self.engine) as session:
            online = queries.count_online(session, self.settings.offline_after_s)
            known = session.exec(sqlmodel.select(func.count()).select_from(Device)).one()
        text_ = self.metrics.render(int(online), int(known), self.ingestor.queue_depth)
        labels = f'worker="{self.worker}",share_group="{self.ingestor.share_group}"'
        extra = [
            "# HELP agrifleet_ingest_worker_info This process is ingest worker <worker>",
            "# TYPE agrifleet_ingest_worker_info gauge",
            f"agrifleet_ingest_worker_info{{{labels}}} 1",
            "# HELP agrifleet_ingest_mqtt_connected 1 while connected and subscribed",
            "# TYPE agrifleet_ingest_mqtt_connected gauge",
            f"agrifleet_ingest_mqtt_connected {int(self.ingestor.connected)}",
            "# HELP agrifleet_ingest_writer_alive 1 while the writer thread runs",
            "# TYPE agrifleet_ingest_writer_alive gauge",
            f"agrifleet_ingest_writer_alive {int(self.ingestor.writer_alive)}",
        ]
        return text_ + "\n".join(extra) + "\n"

    def authorized(self, header: str | None) -> bool:
        """A valid API token of any role (as for the API's /metrics)."""
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        with Session(self.engine) as session:
            return find_token(session, token.strip()) is not None

    # --- running ------------------------------------------------------------------------

    def start(self, host: str, port: int) -> int:
        """Start ingesting and serving /health and /metrics; the port actually bound."""
        self.ingestor.start()
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="worker-http",
                         daemon=True).start()  # fmt: skip
        bound = int(self._server.server_address[1])
        log.info("ingest worker %s (client id %s, group %s): /health and /metrics on %s:%d",
                 self.worker, self.ingestor.client_id, self.ingestor.share_group, host, bound)
        return bound

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self.ingestor.stop()


def _handler(worker: Worker) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "agrifleet-ingest"
        sys_version = ""

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            try:
                if path == "/health":
                    healthy, body = worker.health()
                    status = HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE
                    self._send(status, json.dumps(body), "application/json")
                elif path == "/metrics":
                    if not worker.authorized(self.headers.get("Authorization")):
                        self._send(HTTPStatus.UNAUTHORIZED,
                                   json.dumps({"detail": "a valid API token is needed"}),
                                   "application/json", {"WWW-Authenticate": "Bearer"})
                        return
                    self._send(HTTPStatus.OK, worker.render_metrics(),
                               "text/plain; version=0.0.4; charset=utf-8")
                else:
                    self._send(HTTPStatus.NOT_FOUND, json.dumps({"detail": "not found"}),
                               "application/json")
            except Exception:  # the database away: unavailable, never a traceback to the client
                log.warning("worker %s could not answer %s", worker.worker, path, exc_info=True)
                self._send(HTTPStatus.SERVICE_UNAVAILABLE,
                           json.dumps({"detail": "the database is unavailable"}),
                           "application/json")

        def _send(self, status: HTTPStatus, body: str, kind: str,
                  headers: dict[str, str] | None = None) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("worker http: " + format, *args)

    return Handler


def run_worker(settings: FleetSettings, engine: Engine, worker: str, host: str, port: int,
               ready: Callable[[int], None] = lambda port: None) -> int:
    """Run one ingest worker until SIGTERM or SIGINT, then stop cleanly."""
    done = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: done.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}  # fmt: skip
    w = Worker(settings, engine, worker)
    try:
        ready(w.start(host, port))
        done.wait()
        log.info("ingest worker %s stopping", worker)
    finally:
        w.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


__all__ = ["MIGRATION_LOCK", "Publisher", "SharedWriter", "Worker", "migrate_once", "retire",
           "run_worker", "worker_client_id"]
