"""Honest per-leg states: the good fraction of the last minute, states re-sent before Home
Assistant's expire_after, and the problem state (an unsupported wearable, a full disk)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from bedside.config.daemon import DaemonSettings
from bedside.config.mqtt import MqttSettings
from bedside.config.settings import Settings
from bedside.live.daemon import Daemon, WearableSpec
from bedside.live.leg_status import GoodFraction
from bedside.live.mqtt import MqttPublisher
from bedside.live.outbox import Outbox
from bedside.live.virtual import start_virtual
from firmware_bridge.ble_client import BleClient
from firmware_bridge.source import LinkEvent
from tests.broker import Broker, Subscriber


def test_good_fraction_is_good_seconds_over_the_last_minute() -> None:
    good = GoodFraction(window_s=60.0)
    assert good.update(0.0, 0.0) is None  # no stream time yet
    assert good.update(30.0, 0.0) == 1.0
    assert good.update(60.0, 15.0) == pytest.approx(0.75)  # 15 s bad in the last 60 s
    # 90 s in: the window is 30..90 s and holds those 15 bad seconds of 30..60 s
    assert good.update(90.0, 15.0) == pytest.approx(0.75)
    # 120 s in: the bad seconds (between 30 and 60 s) are over a minute old
    assert good.update(120.0, 15.0) == 1.0
    assert good.update(150.0, 15.0) == 1.0
    # the window starts at the last update at or before 100 s (90 s: ticks are 30 s apart)
    assert good.update(160.0, 25.0) == pytest.approx(1.0 - 10.0 / 70.0)
    assert good.update(160.0, 25.0) == pytest.approx(1.0 - 10.0 / 70.0)  # same time: same


def test_good_fraction_is_the_same_at_any_tick_rate() -> None:
    bad_from, bad_to = 100.0, 130.0  # 30 s of bad signal

    def bad_until(t: float) -> float:
        return min(max(t - bad_from, 0.0), bad_to - bad_from)

    results = []
    for tick in (0.5, 1.0, 5.0):
        good = GoodFraction(window_s=60.0)
        value = None
        for i in range(int(150.0 / tick) + 1):
            value = good.update(i * tick, bad_until(i * tick))
        results.append(value)
    assert results == [pytest.approx(0.5)] * 3  # 90..150 s: 30 s bad of 60


async def _connected(pub: MqttPublisher) -> None:
    deadline = time.monotonic() + 10
    while not pub.connected:
        assert time.monotonic() < deadline, "publisher did not connect"
        await asyncio.sleep(0.02)


async def test_unchanged_states_are_sent_again_every_state_refresh_s(
    broker: Broker, tmp_path: Path
) -> None:
    # the setting's minimum is 10 s in a file; the dataclass takes a short one for the test
    settings = MqttSettings(enabled=True, host="127.0.0.1", port=broker.port, node_id="r1",
                            state_refresh_s=0.5)
    outbox = Outbox(tmp_path / "o.sqlite3")
    pub = MqttPublisher(settings, outbox, on_command=lambda _c: None)
    topic = "crampwatch/r1/wearable/battery"
    sub = Subscriber(broker, [topic])
    try:
        pub.start()
        await _connected(pub)
        for _ in range(3):  # within state_refresh_s: sent once
            pub.publish_state("battery", 80)
            await asyncio.sleep(0.05)
        await sub.until(lambda ms: len(ms) == 1)
        await asyncio.sleep(0.6)
        pub.publish_state("battery", 80)  # unchanged, but state_refresh_s has passed
        got = await sub.until(lambda ms: len(ms) == 2)
        assert [m.payload for m in got] == [b"80", b"80"]
        pub.publish_state("battery", 79)  # a change goes at once
        await sub.until(lambda ms: len(ms) == 3 and ms[-1].payload == b"79")
    finally:
        sub.close()
        await pub.stop()
        outbox.close()


async def test_an_unsupported_wearable_and_a_full_disk_are_published_as_problems(
    broker: Broker, tmp_path: Path
) -> None:
    """The BLE client's ``unsupported_device`` link event (our own boundary: the callback the
    daemon hands the client) becomes the "problem" state until that leg streams; other rooms
    report theirs (``disk_full``) through ``report_problem``."""
    settings = Settings(
        daemon=DaemonSettings(state_dir=str(tmp_path), status_interval_s=0.2),
        mqtt=MqttSettings(enabled=True, host="127.0.0.1", port=broker.port, node_id="p1"),
    )
    air = await start_virtual(seed=5, hours=0.02, profile="quiet", speed=1.0)
    make = air.client_factory(settings.wearable, "left")
    handlers: list[Callable[[LinkEvent], None]] = []

    def factory(on_event: Callable[[LinkEvent], None]) -> BleClient:
        handlers.append(on_event)
        return make(on_event)

    outbox = Outbox(tmp_path / "o.sqlite3")
    pub = MqttPublisher(settings.mqtt, outbox, on_command=lambda _c: None)
    daemon = Daemon(settings, wearables=[WearableSpec("left", factory)], state_dir=tmp_path,
                    publisher=pub)
    sub = Subscriber(broker, ["crampwatch/p1/problem"])
    stop = asyncio.Event()
    try:
        pub.start()
        await _connected(pub)
        handlers[0](LinkEvent(0.0, "unsupported_device", {"reason": "EMG rate 100 Hz < 400"}))
        daemon.report_problem("disk_full", "/var/lib/crampwatch: 0 MB free")
        got = await sub.until(lambda ms: len(ms) >= 2)
        problem = json.loads(got[-1].payload)
        assert problem["problem"] == "unsupported_device"
        assert problem["problems"] == [
            {"code": "unsupported_device", "leg": "", "detail": "EMG rate 100 Hz < 400"},
            {"code": "disk_full", "leg": "", "detail": "/var/lib/crampwatch: 0 MB free"},
        ]
        run = asyncio.create_task(daemon.run(stop))
        # the wearable streams: its refusal is past; the full disk is not
        got = await sub.until(
            lambda ms: json.loads(ms[-1].payload)["problem"] == "disk_full", timeout_s=20
        )
        daemon.clear_problem("disk_full")
        got = await sub.until(lambda ms: json.loads(ms[-1].payload)["problem"] == "none")
        assert json.loads(got[-1].payload)["problems"] == []
        stop.set()
        await run
    finally:
        stop.set()
        sub.close()
        await pub.stop()
        outbox.close()
        await air.wearable.stop()


async def test_the_bedside_alert_hears_a_refused_wearable_of_a_single_wearable_setup(
    tmp_path: Path,
) -> None:
    """One unnamed wearable (MQTT leg ""): the link's ``unsupported_device`` reaches the fault
    monitor under the key it was reported with, at 23:00 (inside the alert window)."""
    settings = Settings(daemon=DaemonSettings(state_dir=str(tmp_path)))
    air = await start_virtual(seed=5, hours=0.02, profile="quiet", speed=1.0)
    make = air.client_factory(settings.wearable, "wearable")
    handlers: list[Callable[[LinkEvent], None]] = []

    def factory(on_event: Callable[[LinkEvent], None]) -> BleClient:
        handlers.append(on_event)
        return make(on_event)

    night = datetime(2026, 11, 26, 23, 0).astimezone().timestamp()
    daemon = Daemon(settings, wearables=[WearableSpec("wearable", factory)], state_dir=tmp_path,
                    wall=lambda: night)
    try:
        handlers[0](LinkEvent(0.0, "unsupported_device", {"reason": "EMG rate 100 Hz < 400"}))
        daemon._check_faults()
        assert [(a.kind, a.leg) for a in daemon.faults.alerts] == [
            ("unsupported_device", "wearable")]
    finally:
        await air.wearable.stop()
