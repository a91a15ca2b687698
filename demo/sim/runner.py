"""Runs many virtual nodes against a fleet's broker: a few processes, each driving its share of
the nodes' MQTT connections from one select() loop (paho's external-loop API, no thread per
client), then one JSON summary of what was sent and what the fleet acknowledged.

Each node has its own MQTT client id. With ``credentials`` (device id → password, as
``agrifleet provision`` made them) each logs in as itself and the broker's ACLs apply; without,
all log in with the one account of ``mqtt_url`` — a shortcut for benchmarks (use the fleet's
account or a test account allowed ``{prefix}/#``), never for a real fleet.

``rate`` > 0 offers that many live batches per second over the whole fleet (open loop: a node
polls on time whether or not its acks came; publish → ack latency shows whether the fleet keeps
up). ``rate`` 0 is a closed loop: every node polls again as soon as its window has room, which
measures the most the fleet sustains. ``ack_on_puback`` counts the broker's PUBACK as the ack:
the bare broker's rate, with no fleet at all.
"""

from __future__ import annotations

import heapq
import json
import math
import multiprocessing
import random
import selectors
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt

from agrifleet.contract import (
    DEFAULT_PREFIX,
    ack_topic,
    device_client_id,
    messages_topic,
    status_topic,
)
from agrifleet.demo.sim.nodes import NodeStats, VirtualNode, thumbnail_b64


@dataclass(frozen=True)
class SimOptions:
    """What ``agrifleet sim fleet`` was asked for."""

    mqtt_url: str
    devices: int
    rate: float = 0.0  # live batches per second over the fleet; 0: as fast as acks allow
    duration: float = 10.0
    prefix: str = DEFAULT_PREFIX
    processes: int = 2
    id_prefix: str = "sim-"
    first: int = 0  # device numbers first .. first + devices - 1
    backlog: int = 0  # readings each node holds at the start (an earlier offline spell)
    live: bool = True  # poll during the run (False: only drain the backlog)
    batch_max: int = 500
    window: int = 4  # batches a node keeps awaiting an ack
    ack_timeout_s: float = 30.0
    detection_every: int = 100  # polls; 0: none
    offline_fraction: float = 0.0  # of the nodes, out of coverage in each spell
    offline_for_s: float = 10.0
    drain_s: float = 30.0  # after the run, how long to wait for outstanding acks
    ack_on_puback: bool = False
    status: bool = True  # publish each node's retained online status first
    credentials: dict[str, str] = field(default_factory=dict)
    ca_file: str | None = None

    def device_ids(self) -> list[str]:
        return [f"{self.id_prefix}{n:05d}" for n in range(self.first, self.first + self.devices)]


class _Slice:
    """One process's nodes and their MQTT clients, driven from one selector."""

    def __init__(self, options: SimOptions, ids: list[str], seed: int) -> None:
        self.o = options
        self.rng = rng = random.Random(seed)  # noqa: S311 - simulation, not cryptography
        thumb = thumbnail_b64() if options.detection_every else None
        self.nodes = [VirtualNode(i, batch_max=options.batch_max,
                                  ack_timeout_s=options.ack_timeout_s, window=options.window,
                                  detection_every=options.detection_every, thumbnail=thumb,
                                  rng=random.Random(rng.random()))  # noqa: S311
                      for i in ids]  # fmt: skip
        self.clients: list[mqtt.Client] = []
        self.selector = selectors.DefaultSelector()
        self.pubacks: dict[tuple[int, int], tuple[int, int]] = {}  # (client, mid) → (node, seq)
        self.connected = 0
        self.dirty: set[int] = set()  # clients with bytes to write
        self.ready: set[int] = set()  # nodes that may have something to send
        self.errors: list[str] = []
        self.acked_per_s: dict[int, int] = {}
        self.epoch = 0.0
        self.last_ack = 0.0

    # --- connections ----------------------------------------------------------------------

    def connect(self) -> None:
        url = urlsplit(self.o.mqtt_url)
        host = url.hostname or "127.0.0.1"
        port = url.port or (8883 if url.scheme == "mqtts" else 1883)
        for index, node in enumerate(self.nodes):
            own = node.device_id in self.o.credentials  # a device's account takes its own id
            client_id = device_client_id(node.device_id) if own else f"sim-{node.device_id}"
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                 clean_session=True, protocol=mqtt.MQTTv311)  # fmt: skip
            if own:
                client.username_pw_set(node.device_id, self.o.credentials[node.device_id])
            else:
                client.username_pw_set(unquote(url.username or ""), unquote(url.password or ""))
            if url.scheme == "mqtts":
                client.tls_set(ca_certs=self.o.ca_file)
            client.max_inflight_messages_set(max(20, self.o.window * 2))
            client.user_data_set(index)
            client.on_connect = self._on_connect
            client.on_message = self._on_message
            client.on_publish = self._on_publish
            client.connect(host, port, keepalive=120)
            sock = client.socket()
            if sock is None:
                raise ConnectionError(f"{node.device_id}: no socket after connect")
            self.selector.register(sock, selectors.EVENT_READ, client)
            self.clients.append(client)
        deadline = time.monotonic() + 60
        while self.connected < len(self.clients) and time.monotonic() < deadline:
            self._pump(0.05)
        if self.connected < len(self.clients):
            self.errors.append(f"{len(self.clients) - self.connected} nodes could not connect")

    def _on_connect(self, client: mqtt.Client, index: int, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.errors.append(f"{self.nodes[index].device_id}: broker refused: {reason}")
            return
        self.connected += 1
        node = self.nodes[index]
        if not self.o.ack_on_puback:
            client.subscribe(ack_topic(self.o.prefix, node.device_id), qos=1)
        if self.o.status:
            body = (f'{{"v":1,"device_id":"{node.device_id}","boot_id":"{node.boot_id}",'
                    f'"state":"online","health":{{"outbox_depth":{node.backlog},'
                    f'"agent_version":"sim"}}}}')  # fmt: skip
            client.publish(status_topic(self.o.prefix, node.device_id), body, qos=1, retain=True)

    def _on_message(self, _c: mqtt.Client, index: int, message: mqtt.MQTTMessage) -> None:
        node = self.nodes[index]
        before = node.stats.acked
        node.on_ack(message.payload, time.monotonic())
        self._count_acked(node.stats.acked - before)
        self.ready.add(index)

    def _on_publish(self, client: mqtt.Client, index: int, mid: int, _r: Any, _p: Any) -> None:
        if not self.o.ack_on_puback:
            return
        found = self.pubacks.pop((index, mid), None)
        if found is None:
            return
        node = self.nodes[index]
        first = found[1]
        sent = node.inflight.get(first)
        if sent is None:
            return
        ranges = [[sent.seqs[0], sent.seqs[-1]]]  # a batch's seqs are consecutive
        before = node.stats.acked
        payload = json.dumps({"boot_id": node.boot_id, "ranges": ranges}).encode()
        node.on_ack(payload, time.monotonic())
        self._count_acked(node.stats.acked - before)
        self.ready.add(index)

    def _count_acked(self, n: int) -> None:
        if n:
            self.last_ack = time.time()
            second = int(self.last_ack - self.epoch)
            self.acked_per_s[second] = self.acked_per_s.get(second, 0) + n

    # --- the loop -------------------------------------------------------------------------

    def _pump(self, timeout: float) -> None:
        for key, _ in self.selector.select(timeout):
            key.data.loop_read()
            self.dirty.add(key.data.user_data_get())
        if self.dirty:
            waiting = set()
            for index in self.dirty:
                client = self.clients[index]
                if client.want_write():
                    client.loop_write()
                    if client.want_write():
                        waiting.add(index)
            self.dirty = waiting

    def _send(self, index: int, now: float) -> None:
        node = self.nodes[index]
        client = self.clients[index]
        topic = messages_topic(self.o.prefix, node.device_id)
        for first, payload in node.due(now):
            info = client.publish(topic, payload, qos=1)
            self.dirty.add(index)
            if self.o.ack_on_puback:
                self.pubacks[(index, info.mid)] = (index, first)

    def run(self, epoch: float) -> dict[str, Any]:
        """From ``epoch`` (wall clock, shared by the processes) for ``duration``, then drain."""
        o = self.o
        self.epoch = epoch
        for node in self.nodes:
            if o.backlog:
                node.preload(o.backlog, time.time())
        while time.time() < epoch:
            self._pump(0.01)
        start = time.monotonic()
        end = start + o.duration
        n = len(self.nodes)
        interval = n / (o.rate / max(1, o.processes)) if o.rate > 0 else 0.0
        schedule = [(start + self.rng.random() * interval, i) for i in range(n)] if interval else []
        heapq.heapify(schedule)
        offline: list[int] = []
        next_spell = start + o.offline_for_s if o.offline_fraction > 0 else math.inf
        next_misc = start + 1.0
        self.ready = set(range(n))
        while True:
            now = time.monotonic()
            producing = now < end
            polling = producing and o.live
            if polling and interval:
                wall = time.time()
                while schedule and schedule[0][0] <= now:
                    due, i = heapq.heappop(schedule)
                    self.nodes[i].poll(wall)
                    self.ready.add(i)
                    heapq.heappush(schedule, (due + interval, i))
            ready, self.ready = self.ready, set()
            wall = time.time()
            for i in ready:
                node = self.nodes[i]
                if not node.can_send():
                    continue
                if polling and not interval and not node.has_unsent():
                    node.poll(wall)  # closed loop: a poll as soon as the window has room
                self._send(i, now)
            if now >= next_spell:
                for i in offline:  # back in coverage: the backlog drains
                    self.nodes[i].online = True
                    self.ready.add(i)
                count = int(n * o.offline_fraction) if producing else 0
                offline = self.rng.sample(range(n), count)
                for i in offline:
                    self.nodes[i].online = False
                next_spell = now + o.offline_for_s if producing else math.inf
            if now >= next_misc:
                next_misc = now + 1.0
                for i, client in enumerate(self.clients):
                    client.loop_misc()
                    if self.nodes[i].inflight:
                        self.ready.add(i)  # what timed out goes again
                if not producing and (now > end + o.drain_s
                                      or all(not nd.pending for nd in self.nodes)):
                    break
            self._pump(0.002 if interval else 0.0002)
        if offline:
            for i in offline:
                self.nodes[i].online = True
        for client in self.clients:
            client.disconnect()
            client.loop_write()
        stats = NodeStats()
        backlog = 0
        for node in self.nodes:
            s = node.stats
            for name in ("polls", "items", "detections", "batches", "resends", "acked",
                         "rejected", "acks"):  # fmt: skip
                setattr(stats, name, getattr(stats, name) + getattr(s, name))
            stats.latencies.extend(s.latencies)
            backlog += node.backlog
        return {**asdict(stats), "unacked": backlog, "errors": self.errors[:20],
                "acked_per_s": self.acked_per_s,
                "last_ack_s": self.last_ack - epoch if self.last_ack else None}


def _run_slice(options: SimOptions, ids: list[str], seed: int, go: Any, epoch: Any,
               out: Any) -> None:  # fmt: skip
    """A child process: connect its nodes, say so, wait for the common start, run."""
    try:
        piece = _Slice(options, ids, seed)
        piece.connect()
    except Exception as exc:  # reported in the summary, never a silent hang
        out.put({"ready": False, "errors": [f"{type(exc).__name__}: {exc}"]})
        return
    out.put({"ready": True})
    go.wait()
    try:
        out.put(piece.run(epoch.value))
    except Exception as exc:
        out.put({"errors": [f"{type(exc).__name__}: {exc}"]})


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_fleet(options: SimOptions) -> dict[str, Any]:
    """Run the virtual fleet and return the summary (also what ``sim fleet`` prints)."""
    ids = options.device_ids()
    processes = max(1, min(options.processes, len(ids)))
    slices = [ids[p::processes] for p in range(processes)]
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    go, epoch = ctx.Event(), ctx.Value("d", 0.0)
    workers = [ctx.Process(target=_run_slice, args=(options, s, n, go, epoch, out), daemon=True)
               for n, s in enumerate(slices)]  # fmt: skip
    for w in workers:
        w.start()
    results: list[dict[str, Any]] = []
    running = 0
    # Every process connects its nodes first; then all start producing together.
    connect_deadline = time.monotonic() + 60 + len(ids) / 50
    for _ in workers:
        try:
            said = out.get(timeout=max(1.0, connect_deadline - time.monotonic()))
        except Exception:
            said = {"errors": ["a simulator process did not connect its nodes in time"]}
        if said.get("ready"):
            running += 1
        else:
            results.append(said)
    epoch.value = time.time() + 0.5
    go.set()
    deadline = time.monotonic() + options.duration + options.drain_s + 60
    for _ in range(running):
        try:
            results.append(out.get(timeout=max(1.0, deadline - time.monotonic())))
        except Exception:
            results.append({"errors": ["a simulator process did not report"]})
    for w in workers:
        w.join(5)
        if w.is_alive():
            w.terminate()
    return summarise(options, results)


def summarise(options: SimOptions, results: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {k: 0 for k in ("polls", "items", "detections", "batches",
                                             "resends", "acked", "rejected", "acks", "unacked")}
    latencies: list[float] = []
    per_s: dict[int, int] = {}
    errors: list[str] = []
    last = [r["last_ack_s"] for r in results if r.get("last_ack_s")]
    for r in results:
        for k in total:
            total[k] += int(r.get(k, 0))
        latencies += r.get("latencies", [])
        errors += r.get("errors", [])
        for second, n in r.get("acked_per_s", {}).items():
            per_s[int(second)] = per_s.get(int(second), 0) + n
    # The steady rate: acknowledged items per second over the run, the first second left out.
    steady = [per_s.get(s, 0) for s in range(1, max(2, int(options.duration)))]
    return {
        "devices": options.devices,
        "offered_batches_per_s": options.rate or None,
        "duration_s": options.duration,
        "sent": {"polls": total["polls"], "items": total["items"],
                 "detections": total["detections"], "batches": total["batches"],
                 "resends": total["resends"]},
        "acknowledged": {"items": total["acked"], "rejected": total["rejected"],
                         "acks": total["acks"], "unacked": total["unacked"]},
        "acked_items_per_s": round(sum(steady) / len(steady), 1) if steady else 0.0,
        "last_ack_s": round(max(last), 3) if last else None,
        "acked_items_per_s_to_last_ack": round(total["acked"] / max(last), 1) if last else 0.0,
        "ack_latency_s": {"p50": percentile(latencies, 0.50), "p99": percentile(latencies, 0.99),
                          "batches": len(latencies)},
        "errors": errors,
    }  # fmt: skip
