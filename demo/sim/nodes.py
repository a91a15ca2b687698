"""A light virtual node: a soil 7-in-1 probe polled into an in-memory outbox, and the outbox/ack
protocol of a real node (edge/forwarder.py) without its files or threads.

Every poll gives 7 readings (moisture, temperature, EC, pH, N, P, K) numbered by the boot's
``seq``; now and then a crop-disease detection with a thumbnail. Items leave in seq order in
batches cut by the edge's own :func:`edge.outbox.batch.item_json` (contract JSON), and stay
until an ack on ``{prefix}/{device}/ack`` names them stored (or rejected); a batch not
acknowledged within ``ack_timeout_s`` goes again. While a node is offline (out of coverage in
a spell) it keeps polling, and its backlog drains in big batches when it returns.
"""

from __future__ import annotations

import base64
import json
import math
import random
import secrets
from dataclasses import dataclass, field

from agrifleet.contract import CONTRACT_VERSION
from agrifleet.edge.outbox.batch import item_json

#: (quantity, unit, typical value, daily swing, noise) of a soil 7-in-1 probe.
QUANTITIES: tuple[tuple[str, str, float, float, float], ...] = (
    ("soil_moisture", "%", 32.0, 4.0, 0.5),
    ("soil_temperature", "degC", 24.0, 5.0, 0.2),
    ("soil_ec", "uS/cm", 850.0, 40.0, 10.0),
    ("soil_ph", "pH", 6.4, 0.1, 0.02),
    ("nitrogen", "mg/kg", 42.0, 2.0, 1.0),
    ("phosphorus", "mg/kg", 18.0, 1.0, 0.5),
    ("potassium", "mg/kg", 160.0, 6.0, 2.0),
)
LABELS = ("Tomato___healthy", "Tomato___Late_blight", "Tomato___Early_blight",
          "Potato___Late_blight", "Corn___Common_rust")  # fmt: skip
MODEL = {"name": "leafnet", "version": "1.0.0", "sha256": "0" * 64}


def thumbnail_b64() -> str | None:
    """A small JPEG leaf-green thumbnail (Pillow, when installed), base64."""
    try:
        import io

        from PIL import Image
    except ModuleNotFoundError:
        return None
    image = Image.new("RGB", (96, 96), (46, 139, 60))
    for x in range(0, 96, 8):  # a little texture so the JPEG is not trivially small
        for y in range(0, 96, 8):
            image.putpixel((x, y), (120 + x, 80 + y, 40))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=70)
    return base64.b64encode(out.getvalue()).decode()


@dataclass
class Sent:
    """What a node has published and not had acknowledged."""

    at: float
    seqs: tuple[int, ...]


@dataclass
class NodeStats:
    """What one node did; summed over the fleet by the runner."""

    polls: int = 0
    items: int = 0  # items produced (readings and detections)
    detections: int = 0
    batches: int = 0  # Batch messages published, resends included
    resends: int = 0  # batches published again after ack_timeout_s
    acked: int = 0  # distinct items the fleet acknowledged stored
    rejected: int = 0  # items the fleet refused for good
    acks: int = 0
    latencies: list[float] = field(default_factory=list)  # publish → ack of each batch, s


class VirtualNode:
    """One device's telemetry and outbox; the runner calls it from one thread."""

    def __init__(self, device_id: str, *, batch_max: int = 500, ack_timeout_s: float = 30.0,
                 window: int = 4, detection_every: int = 0, thumbnail: str | None = None,
                 rng: random.Random | None = None) -> None:  # fmt: skip
        self.device_id = device_id
        self.boot_id = "sim-" + secrets.token_hex(6)
        self.batch_max = batch_max
        self.ack_timeout_s = ack_timeout_s
        self.window = window
        self.detection_every = detection_every
        self.thumbnail = thumbnail
        self.rng = rng or random.Random()  # noqa: S311 - simulation, not cryptography
        self.phase = self.rng.random() * 2 * math.pi
        self.seq = 0
        self.uptime = 0.0
        self.online = True
        self.pending: dict[int, str] = {}  # seq → item JSON, until acknowledged
        self.inflight: dict[int, Sent] = {}  # first seq of a batch → what was sent
        self._sent_seqs: set[int] = set()
        self.stats = NodeStats()
        self._head = (f'{{"v":{CONTRACT_VERSION},"device_id":{json.dumps(device_id)},'
                      f'"boot_id":{json.dumps(self.boot_id)},"items":[')  # fmt: skip

    # --- producing ----------------------------------------------------------------------

    def poll(self, now: float) -> None:
        """One poll of the probe: 7 readings, and every ``detection_every`` polls a detection."""
        self.stats.polls += 1
        self.uptime += 1.0
        day = 2 * math.pi * (now % 86400) / 86400
        for quantity, unit, base, swing, noise in QUANTITIES:
            value = base + swing * math.sin(day + self.phase) + self.rng.gauss(0, noise)
            body = json.dumps({"sensor": "soil", "quantity": quantity,
                               "value": round(value, 3), "unit": unit})  # fmt: skip
            self._add("reading", now, body)
        if self.detection_every and self.stats.polls % self.detection_every == 0:
            label = self.rng.choice(LABELS)
            confidence = round(self.rng.uniform(0.6, 0.99), 3)
            body = json.dumps({
                "camera": "leafcam", "label": label, "confidence": confidence,
                "uncertain": False, "top3": [{"label": label, "confidence": confidence}],
                "model": MODEL, "inference_ms": round(self.rng.uniform(30, 90), 1),
                "image_sha256": secrets.token_hex(32), "thumbnail_jpeg_b64": self.thumbnail,
            })  # fmt: skip
            self._add("detection", now, body)
            self.stats.detections += 1

    def preload(self, readings: int, now: float) -> None:
        """A backlog left by an offline spell before the run: ``readings`` readings (polls of 7)."""
        for _ in range(math.ceil(readings / len(QUANTITIES))):
            self.poll(now)

    def _add(self, kind: str, now: float, body: str) -> None:
        self.pending[self.seq] = item_json(kind, self.seq, now, self.uptime, True, body)
        self.seq += 1
        self.stats.items += 1

    # --- sending ------------------------------------------------------------------------

    def due(self, now: float) -> list[tuple[int, bytes]]:
        """(first seq, Batch payload) to publish now: unsent items in seq order, while the
        window allows."""
        if not self.online:
            return []
        self._expire(now)
        out: list[tuple[int, bytes]] = []
        waiting = [s for s in self.pending if s not in self._sent_seqs]
        if not waiting:
            return out
        waiting.sort()
        start = 0
        while start < len(waiting) and len(self.inflight) < self.window:
            seqs = tuple(waiting[start : start + self.batch_max])
            start += len(seqs)
            self.inflight[seqs[0]] = Sent(now, seqs)
            self._sent_seqs.update(seqs)
            body = self._head + ",".join(self.pending[s] for s in seqs) + "]}"
            out.append((seqs[0], body.encode()))
            self.stats.batches += 1
        return out

    def _expire(self, now: float) -> None:
        for first, sent in list(self.inflight.items()):
            if now - sent.at >= self.ack_timeout_s:
                del self.inflight[first]
                self._sent_seqs.difference_update(sent.seqs)
                self.stats.resends += 1

    def can_send(self) -> bool:
        return self.online and len(self.inflight) < self.window

    def has_unsent(self) -> bool:
        """Items waiting that are not in a batch awaiting its ack."""
        return any(s not in self._sent_seqs for s in self.pending)

    # --- acknowledgements ---------------------------------------------------------------

    def on_ack(self, payload: bytes | bytearray, now: float) -> None:
        """Forget what the fleet stored or refused; free the batches it covers."""
        try:
            ack = json.loads(payload)
            if ack.get("boot_id") != self.boot_id:
                return
            stored = [s for first, last in ack["ranges"] for s in range(first, last + 1)]
            rejected = [int(s) for s in ack.get("rejected", {})]
        except (ValueError, KeyError, TypeError):
            return
        self.stats.acks += 1
        for seq in stored:
            if self.pending.pop(seq, None) is not None:
                self.stats.acked += 1
        for seq in rejected:
            if self.pending.pop(seq, None) is not None:
                self.stats.rejected += 1
        done = set(stored) | set(rejected)
        for first, sent in list(self.inflight.items()):
            if done.issuperset(sent.seqs) or not any(s in self.pending for s in sent.seqs):
                del self.inflight[first]
                self._sent_seqs.difference_update(sent.seqs)
                self.stats.latencies.append(now - sent.at)

    @property
    def backlog(self) -> int:
        """Items not yet acknowledged."""
        return len(self.pending)
