"""A virtual node keeps the outbox/ack protocol of a real one: items numbered by seq in a boot,
7 readings per poll, batches in seq order within the window and the size cap, forgotten only when
an ack names them stored or rejected, and sent again when no ack comes in time."""

from __future__ import annotations

import json
import random

from agrifleet.contract import Batch
from agrifleet.demo.sim.nodes import QUANTITIES, VirtualNode


def node(**kw: object) -> VirtualNode:
    return VirtualNode("sim-00001", rng=random.Random(1), **kw)  # type: ignore[arg-type]


def ack(n: VirtualNode, ranges: list[list[int]], rejected: dict[int, str] | None = None) -> bytes:
    return json.dumps({"v": 1, "boot_id": n.boot_id, "ranges": ranges,
                       "rejected": rejected or {}}).encode()


def test_a_poll_is_seven_readings_in_a_batch_the_contract_accepts() -> None:
    n = node(detection_every=2, thumbnail="/9j/AA==")
    n.poll(1.8e9)
    n.poll(1.8e9 + 1)
    [(first, payload)] = n.due(0.0)
    batch = Batch.model_validate_json(payload)
    kinds = [item.kind for item in batch.items]
    assert first == 0 and [item.seq for item in batch.items] == list(range(15))
    assert kinds == ["reading"] * 14 + ["detection"]
    assert {i.quantity for i in batch.items if i.kind == "reading"} == {q[0] for q in QUANTITIES}
    assert batch.device_id == "sim-00001" and batch.boot_id == n.boot_id


def test_items_go_once_until_acked_and_the_ack_frees_the_window() -> None:
    n = node(window=1)
    n.poll(1.8e9)
    assert len(n.due(0.0)) == 1
    n.poll(1.8e9)
    assert n.due(1.0) == [] and not n.can_send()  # the window of one is full
    n.on_ack(ack(n, [[0, 5]], {6: "invalid_item: nope"}), 2.0)
    assert n.backlog == 7 and n.stats.acked == 6 and n.stats.rejected == 1
    assert n.stats.latencies == [2.0]
    [(first, _)] = n.due(2.0)
    assert first == 7
    n.on_ack(b"not json", 3.0)
    n.on_ack(json.dumps({"boot_id": "other", "ranges": [[7, 13]]}).encode(), 3.0)
    assert n.backlog == 7  # neither a broken ack nor another boot's frees anything


def test_a_batch_not_acknowledged_in_time_goes_again() -> None:
    n = node(ack_timeout_s=5.0)
    n.poll(1.8e9)
    assert len(n.due(0.0)) == 1
    assert n.due(4.0) == []
    [(first, _)] = n.due(5.0)
    assert first == 0 and n.stats.resends == 1 and n.stats.batches == 2


def test_a_backlog_drains_in_capped_batches_in_seq_order_and_not_while_offline() -> None:
    n = node(batch_max=500, window=3)
    n.preload(1200, 1.8e9)
    assert n.backlog == 1204  # whole polls of 7
    n.online = False
    assert n.due(0.0) == []
    n.online = True
    batches = n.due(0.0)
    sizes = [len(Batch.model_validate_json(p).items) for _, p in batches]
    assert [f for f, _ in batches] == [0, 500, 1000] and sizes == [500, 500, 204]
