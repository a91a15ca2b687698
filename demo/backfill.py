"""A season of past soil readings for each demo node, so every chart range shows a curve.

The readings come from the light virtual node of ``agrifleet sim fleet`` (demo/sim/nodes.py:
the soil 7-in-1 probe's quantities with a daily swing), polled at past times: every 15 minutes
over the last day, every hour over the last week, every 12 hours before that (the day chart's
buckets are 15 minutes, the week's 2 hours, the season's a day). They go to the fleet the way a
node's backlog does after a long offline spell, in big batches over MQTT as the node itself (its
own broker account), one boot of their own, every node at once; the call returns once the fleet
has acknowledged every item, or after ``timeout_s``.
"""

from __future__ import annotations

import logging
import threading
import time

import paho.mqtt.client as mqtt

from agrifleet.contract import DEFAULT_PREFIX, ack_topic, messages_topic
from agrifleet.demo.sim.nodes import VirtualNode

log = logging.getLogger(__name__)

#: (covers readings younger than this many seconds, one poll every this many seconds).
STEPS = ((86400, 900), (7 * 86400, 3600), (None, 12 * 3600))
BATCH_ITEMS = 1000  # about 170 KB: well inside the broker's and the fleet's limits


def poll_times(days: float, now: float) -> list[float]:
    """The past times to poll at, oldest first, thinning out with age."""
    times, t = [], now - days * 86400
    while t < now:
        times.append(t)
        age = now - t
        t += next(step for younger, step in STEPS if younger is None or age <= younger)
    return times


def backfill(devices: list[str], days: float, mqtt_port: int, passwords: dict[str, str],
             *, timeout_s: float = 60.0) -> int:
    """Send ``days`` of readings for each device; how many the fleet acknowledged."""
    from concurrent.futures import ThreadPoolExecutor

    now = time.time()
    times = poll_times(days, now)
    started = time.monotonic()
    nodes = []
    for device in devices:
        node = VirtualNode(device, batch_max=BATCH_ITEMS, window=10**6)
        for t in times:
            node.poll(t)
        nodes.append(node)
    with ThreadPoolExecutor(max_workers=min(8, len(nodes)) or 1) as pool:
        acked = sum(pool.map(lambda n: _send(n, mqtt_port, passwords[n.device_id], timeout_s),
                             nodes))
    log.info("backfilled %d readings over %g days in %.1f s", acked, days,
             time.monotonic() - started)
    return acked


def _send(node: VirtualNode, mqtt_port: int, password: str, timeout_s: float) -> int:
    """Publish the node's backlog and wait for the fleet's acks; items acknowledged."""
    done = threading.Event()
    lock = threading.Lock()

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with lock:
            node.on_ack(message.payload, time.monotonic())
            if node.backlog == 0:
                done.set()

    subscribed = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{node.device_id}-backfill")
    client.username_pw_set(node.device_id, password)
    client.on_message = on_message
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect("127.0.0.1", mqtt_port)
    client.loop_start()
    try:
        client.subscribe(ack_topic(DEFAULT_PREFIX, node.device_id), qos=1)
        if not subscribed.wait(10):
            log.warning("backfill of %s: no subscription to its acks", node.device_id)
            return 0
        topic = messages_topic(DEFAULT_PREFIX, node.device_id)
        with lock:
            batches = node.due(time.monotonic())
        for _first, payload in batches:
            client.publish(topic, payload, qos=1)
        if not done.wait(timeout_s):
            log.warning("backfill of %s: %d readings not acknowledged within %g s",
                        node.device_id, node.backlog, timeout_s)
        return node.stats.acked
    finally:
        client.loop_stop()
        client.disconnect()
