"""Speed floors of the outbox and publisher against a real mosquitto (numbers in BENCHMARKS.md).

``pytest -s tests/bedside/test_mqtt_throughput.py`` prints the measured values; the asserted
floors are far below them, so a loaded CI machine passes, and a regression by an order of
magnitude (an fsync per row read, a busy wait) fails.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from functools import partial
from pathlib import Path

from bedside.config.mqtt import MqttSettings
from bedside.live.mqtt import MqttPublisher
from bedside.live.outbox import Outbox
from bedside.stream.records import EventRecord
from tests.broker import Broker, Received, Subscriber

N_BACKLOG = 300


def _longer_than(n: int, messages: list[Received]) -> bool:
    return len(messages) > n


def event(n: int) -> EventRecord:
    return EventRecord.from_json({
        "event": "cramp_started", "event_id": f"speed:left:{n}:started", "leg": "left",
        "t_onset": float(n), "t_detect": n + 2.5, "time": "2026-11-27T01:13:35.100+00:00",
        "intensity": 4.2,
    })  # fmt: skip


async def test_backlog_drain_rate_and_publish_latency(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "broker")
    broker.start()
    sub = Subscriber(broker, ["crampwatch/speed/cramp/event"])
    settings = MqttSettings(enabled=True, host=broker.host, port=broker.port, node_id="speed")
    try:
        with Outbox(tmp_path / "o.sqlite3") as box:
            pub = MqttPublisher(
                settings, box, on_command=lambda _c: None, loop=asyncio.get_running_loop()
            )
            put_s = []
            for n in range(N_BACKLOG):  # a night of outage: stored, not yet sent
                t0 = time.perf_counter()
                pub.publish_event(event(n))
                put_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            pub.start()
            seen = await sub.until(lambda ms: len(ms) >= N_BACKLOG, timeout_s=30)
            drain_s = time.perf_counter() - t0
            ids = [json.loads(m.payload)["event_id"] for m in seen]
            assert ids == [f"speed:left:{n}:started" for n in range(N_BACKLOG)]

            latency_s = []
            for n in range(N_BACKLOG, N_BACKLOG + 20):  # live: event -> consumer
                before = len(sub.messages)
                t0 = time.perf_counter()
                pub.publish_event(event(n))
                await sub.until(partial(_longer_than, before))
                latency_s.append(time.perf_counter() - t0)
            await pub.stop()
    finally:
        sub.close()
        broker.stop()
    rate = N_BACKLOG / drain_s
    put_ms = statistics.median(put_s) * 1e3
    latency_ms = statistics.median(latency_s) * 1e3
    print(
        f"\noutbox put (publish_event while offline): median {put_ms:.2f} ms, "
        f"max {max(put_s) * 1e3:.2f} ms\n"
        f"backlog of {N_BACKLOG} drained in {drain_s:.2f} s = {rate:.0f} events/s (in order)\n"
        f"publish_event -> subscriber: median {latency_ms:.1f} ms, "
        f"max {max(latency_s) * 1e3:.1f} ms"
    )
    assert put_ms < 100.0  # measured 0.4-6 ms: one sqlite commit with fsync
    assert rate > 20.0  # measured 180-480 events/s
    assert latency_ms < 500.0  # measured 10-12 ms
