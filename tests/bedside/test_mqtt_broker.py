"""The publisher against a REAL mosquitto (tests/broker.py): discovery, states, events,
availability, HA restarts, commands, refused auth, TLS + password."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bedside.config.mqtt import MqttSettings
from bedside.live.ha_discovery import discovery_messages
from bedside.live.mqtt import Command, MqttPublisher
from bedside.live.outbox import Outbox
from bedside.stream.records import EventRecord
from tests.bedside.test_mqtt_discovery import check_component, check_device_payload
from tests.broker import Broker, Received, Subscriber, make_tls_files

PREFIX = "homeassistant"


def settings_for(broker: Broker, node: str, **overrides: object) -> MqttSettings:
    base = MqttSettings(
        enabled=True,
        host=broker.host,
        port=broker.port,
        node_id=node,
        reconnect_min_delay_s=0.1,
        reconnect_max_delay_s=0.5,
        keepalive_s=5,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def cramp(n: int, kind: str = "cramp_started", leg: str = "left") -> EventRecord:
    e: dict[str, object] = {
        "event": kind,
        "event_id": f"s1:{leg}:{n}:{kind.removeprefix('cramp_')}",
        "leg": leg,
        "t_onset": 100.0 * n,
        "time": "2026-11-27T01:13:35.100+00:00",
        "intensity": 4.2,
    }
    if kind == "cramp_started":
        e["t_detect"] = 100.0 * n + 2.5
    else:
        e.update(t_end=100.0 * n + 60.0, duration_s=60.0, peak_intensity=7.9)
    return EventRecord.from_json(e)


async def eventually(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


class Harness:
    def __init__(self, settings: MqttSettings, db: Path, **kwargs: object) -> None:
        self.commands: list[Command] = []
        self.command_threads: set[int] = set()
        self.outbox = Outbox(db)
        self.pub = MqttPublisher(
            settings,
            self.outbox,
            on_command=self._on_command,
            loop=asyncio.get_running_loop(),
            **kwargs,  # type: ignore[arg-type]
        )

    def _on_command(self, command: Command) -> None:
        self.commands.append(command)
        self.command_threads.add(threading.get_ident())

    async def close(self) -> None:
        await self.pub.stop()
        self.outbox.close()


@pytest.fixture
async def harness_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(settings: MqttSettings, **kwargs: object) -> Harness:
        h = Harness(settings, tmp_path / f"outbox{len(made)}.sqlite3", **kwargs)
        made.append(h)
        return h

    yield make
    for h in made:
        await h.close()


def last(messages: list[Received], topic: str) -> Received:
    matching = [m for m in messages if m.topic == topic]
    assert matching, f"nothing on {topic}"
    return matching[-1]


async def test_discovery_states_events_and_availability_arrive_as_documented(
    broker: Broker, harness_factory: Callable[..., Harness]
) -> None:
    h = harness_factory(settings_for(broker, "t1"), wearable_addresses=("aa:bb:cc:dd:ee:01",))
    base = "crampwatch/t1"
    h.pub.publish_state("link_state", "connected")
    h.pub.publish_state("wearable_available", "online")
    h.pub.publish_state("battery", 87)
    h.pub.publish_state("signal_quality", 93.5)
    h.pub.publish_state("link", {"last_data": None, "packet_loss_pct": 0.5})
    h.pub.publish_state("count_tonight", 0)
    h.pub.start()
    await eventually(lambda: h.pub.connected)

    # A late subscriber (HA starting after us) gets everything retained.
    sub = Subscriber(broker, [f"{PREFIX}/#", f"{base}/#"])
    try:
        seen = await sub.until(lambda ms: len({m.topic for m in ms}) >= 9)
        disc = last(seen, f"{PREFIX}/device/crampwatch_t1/config")
        assert disc.retain and disc.qos == 1
        check_device_payload(
            disc.topic, json.loads(disc.payload), prefix=PREFIX, base=base, node="t1"
        )
        retained = {m.topic: m.text for m in seen if m.retain}
        assert retained[f"{base}/status"] == "online"
        assert retained[f"{base}/ble/state"] == "connected"
        assert retained[f"{base}/wearable/availability"] == "online"
        assert retained[f"{base}/wearable/battery"] == "87"
        assert retained[f"{base}/wearable/signal_quality"] == "93.5"
        assert json.loads(retained[f"{base}/wearable/link"]) == {
            "schema": 1, "last_data": None, "packet_loss_pct": 0.5}
        assert retained[f"{base}/cramp/count_tonight"] == "0"
        assert retained[f"{base}/cramp/active"] == "OFF"

        h.pub.publish_event(cramp(1))
        h.pub.publish_event(cramp(1, "cramp_ended"))
        h.pub.publish_state("count_tonight", 1)
        seen = await sub.until(
            lambda ms: (
                len([m for m in ms if m.topic.endswith("/event")]) == 2
                and any(m.topic.endswith("/count_tonight") and m.text == "1" for m in ms)
            )
        )
        events = [m for m in seen if m.topic == f"{base}/cramp/event"]
        assert [m.retain for m in events] == [False, False]
        assert [m.qos for m in events] == [1, 1]
        started, ended = (json.loads(m.payload) for m in events)
        assert started == {**cramp(1).to_json(), "event_type": "cramp_started", "schema": 1}
        assert ended == {**cramp(1, "cramp_ended").to_json(), "event_type": "cramp_ended",
                         "schema": 1}
        active = [m.text for m in seen if m.topic == f"{base}/cramp/active"]
        assert active == ["OFF", "ON", "OFF"]  # retained OFF from the start, then the cramp
        lastcramp = json.loads(last(seen, f"{base}/cramp/last").payload)
        assert lastcramp == {
            "schema": 1,
            "event_id": "s1:left:1:ended",
            "leg": "left",
            "duration_s": 60.0,
            "time": cramp(1).time,
            "label": None,
        }
        h.pub.label_last("false_alarm")
        seen = await sub.until(lambda ms: b"false_alarm" in last(ms, f"{base}/cramp/last").payload)

        h.pub.publish_summary({"night": "2026-11-26", "cramps": 1, "total_cramp_s": 60.0})
        seen = await sub.until(lambda ms: any(m.topic == f"{base}/summary/night" for m in ms))
        summary = last(seen, f"{base}/summary/night")
        assert json.loads(summary.payload) == {
            "night": "2026-11-26",
            "cramps": 1,
            "total_cramp_s": 60.0,
            "schema": 1,
            "event_id": "summary:2026-11-26",
        }

        await eventually(lambda: len(h.outbox) == 0)  # removed on PUBACK
        stats = h.pub.statistics()
        assert (stats.events_stored, stats.messages_sent, stats.messages_acked) == (3, 3, 3)
        assert stats.connects == 1 and stats.outbox_pending == 0

        await h.pub.stop()
        seen = await sub.until(lambda ms: last(ms, f"{base}/status").text == "offline")
    finally:
        sub.close()
    # ... and it stays retained for whoever comes next, as does the summary.
    late = Subscriber(broker, [f"{base}/status", f"{base}/summary/night"])
    try:
        got = late.wait_for(lambda ms: len(ms) == 2)
        assert {(m.topic, m.retain) for m in got} == {
            (f"{base}/status", True),
            (f"{base}/summary/night", True),
        }
        assert last(got, f"{base}/status").text == "offline"
    finally:
        late.close()


async def test_purge_discovery_clears_the_retained_config(
    broker: Broker, harness_factory: Callable[..., Harness]
) -> None:
    h = harness_factory(settings_for(broker, "t9"))
    h.pub.start()
    await eventually(lambda: h.pub.connected)
    topic = f"{PREFIX}/device/crampwatch_t9/config"
    sub = Subscriber(broker, [topic])
    try:
        await sub.until(lambda ms: len(ms) == 1 and ms[0].retain and len(ms[0].payload) > 100)
        entities = len(discovery_messages(node="t9", base_topic="b", legacy=True))
        assert entities == 20  # 14 for the unit, 6 for its one wearable
        assert h.pub.purge_discovery() == 1 + entities  # the device topic + the legacy ones
        await sub.until(lambda ms: len(ms) == 2 and ms[1].payload == b"")
    finally:
        sub.close()
    await h.pub.stop()
    late = Subscriber(broker, [topic])  # nothing retained any more
    try:
        await asyncio.sleep(0.3)
        assert late.messages == []
    finally:
        late.close()


async def test_lost_connection_leaves_the_offline_will(
    broker: Broker, harness_factory: Callable[..., Harness]
) -> None:
    h = harness_factory(settings_for(broker, "t2"))
    h.pub.start()
    await eventually(lambda: h.pub.connected)
    sub = Subscriber(broker, ["crampwatch/t2/status"])
    try:
        await sub.until(lambda ms: any(m.text == "online" for m in ms))
        # Kill paho's socket under it: the broker sees an unclean loss and sends the will.
        client = h.pub._client
        assert client is not None
        sock = client.socket()
        assert sock is not None
        h.pub._client = None  # keep stop() from publishing offline itself
        client.loop_stop()
        sock.close()
        await sub.until(lambda ms: ms[-1].text == "offline", timeout_s=10)
    finally:
        sub.close()


async def test_ha_online_triggers_a_delayed_republish(
    broker: Broker, harness_factory: Callable[..., Harness]
) -> None:
    delays: list[float] = []

    def delay() -> float:
        delays.append(0.3)
        return 0.3

    h = harness_factory(settings_for(broker, "t3"), republish_delay=delay)
    h.pub.publish_state("battery", 55)
    h.pub.start()
    await eventually(lambda: h.pub.connected)
    sub = Subscriber(broker, [f"{PREFIX}/device/#", "crampwatch/t3/wearable/battery"])
    try:
        await sub.until(lambda ms: len(ms) == 2)  # the retained copies
        sent = time.monotonic()
        sub.publish(f"{PREFIX}/status", "online")
        seen = await sub.until(lambda ms: len([m for m in ms if not m.retain]) == 2)
        fresh = [m for m in seen if not m.retain]
        assert {m.topic for m in fresh} == {
            f"{PREFIX}/device/crampwatch_t3/config",
            "crampwatch/t3/wearable/battery",
        }
        assert all(m.at - sent >= 0.25 for m in fresh)  # after the delay, not at once
        assert delays == [0.3]
        # 'offline' from HA, and a retained 'online' (old news at subscribe time), do nothing.
        sub.publish(f"{PREFIX}/status", "offline")
        await asyncio.sleep(0.5)
        assert len(sub.messages) == 4
        assert h.pub.statistics().ha_restarts == 1
    finally:
        sub.close()


async def test_only_fresh_commands_reach_the_daemon(
    broker: Broker, harness_factory: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    base = "crampwatch/t4"
    sender = Subscriber(broker, ["unused/#"])
    try:
        # Retained before we connect: delivered to us with retain=1 -> stale.
        sender.publish(f"{base}/cmd/test_prompt", "PRESS", retain=True)
        h = harness_factory(settings_for(broker, "t4", command_max_age_s=5.0))
        h.pub.start()
        await eventually(lambda: h.pub.connected)
        await eventually(lambda: h.pub.statistics().commands_stale == 1)
        now = datetime.now(UTC)
        fresh = json.dumps({"value": "PRESS", "ts": now.isoformat()})
        old = json.dumps({"value": "PRESS", "ts": now.timestamp() - 60})
        with caplog.at_level(logging.WARNING, logger="bedside.live.mqtt"):
            sender.publish(f"{base}/cmd/test_prompt", old)  # delivered late: dropped
            sender.publish(
                f"{base}/cmd/label_last",
                json.dumps({"value": "false_alarm", "ts": now.timestamp()}),
            )
            sender.publish(f"{base}/cmd/silence", "PRESS")  # no time in it: accepted
            sender.publish(f"{base}/cmd/test_prompt", fresh)
            sender.publish(f"{base}/cmd/reboot", "PRESS")  # unknown
            sender.publish(f"{base}/cmd/silence", "{not json")
            sender.publish(f"{base}/cmd/silence", json.dumps({"ts": "yesterday"}))
            await eventually(lambda: h.pub.statistics().commands_bad == 3)
            await eventually(lambda: len(h.commands) == 3)
        assert [(c.name, c.value) for c in h.commands] == [
            ("label_last", "false_alarm"),
            ("silence", "PRESS"),
            ("test_prompt", "PRESS"),
        ]
        assert h.commands[1].sent_at is None
        assert h.command_threads == {threading.get_ident()}  # the loop's thread, not paho's
        stats = h.pub.statistics()
        assert (stats.commands_accepted, stats.commands_stale, stats.commands_bad) == (3, 2, 3)
        assert "dropped command test_prompt sent 60" in caplog.text
    finally:
        sender.close()


async def test_refused_auth_is_logged_once_and_retried_with_backoff(
    tmp_path: Path,
    harness_factory: Callable[..., Harness],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker = Broker(tmp_path / "auth", users={"bed": "right-horse"})
    broker.start()
    try:
        monkeypatch.setenv("CW_TEST_MQTT_PASSWORD", "wrong-battery")
        settings = settings_for(
            broker,
            "t5",
            username="bed",
            password_env="CW_TEST_MQTT_PASSWORD",
            reconnect_min_delay_s=0.2,
            reconnect_max_delay_s=1.0,
        )
        h = harness_factory(settings)
        with caplog.at_level(logging.DEBUG, logger="bedside.live.mqtt"):
            h.pub.start()
            await asyncio.sleep(3.0)
            h.pub.publish_event(cramp(1))  # detection goes on; the event waits in the outbox
        stats = h.pub.statistics()
        # Backoff 0.2, 0.4, 0.8, 1.0, ...: about 5 attempts in 3 s; a busy loop makes hundreds.
        assert 3 <= stats.connect_attempts <= 8, stats
        assert 3 <= broker.connection_attempts() <= 8
        assert stats.connects == 0 and not h.pub.connected and stats.outbox_pending == 1
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1
        assert "refused the connection" in errors[0].getMessage()
        assert "wrong-battery" not in caplog.text
    finally:
        broker.stop()


async def test_tls_with_client_certificate_and_password(
    tmp_path: Path, harness_factory: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    tls = make_tls_files(tmp_path / "pki")
    broker = Broker(tmp_path / "tls", tls=tls, users={"bed": "s3cret pass"})
    broker.start()
    try:
        (tmp_path / "pw").write_text("s3cret pass\n")
        settings = settings_for(
            broker,
            "t6",
            tls=True,
            tls_ca_file=str(tls.ca),
            tls_cert_file=str(tls.client_cert),
            tls_key_file=str(tls.client_key),
            username="bed",
            password_file=str(tmp_path / "pw"),
        )
        sub = Subscriber(broker, ["crampwatch/t6/#"], username="bed", password="s3cret pass")
        try:
            h = harness_factory(settings)
            with caplog.at_level(logging.DEBUG):
                h.pub.start()
                h.pub.publish_event(cramp(7))
                seen = await sub.until(lambda ms: any(m.topic.endswith("/cramp/event") for m in ms))
            assert json.loads(last(seen, "crampwatch/t6/cramp/event").payload)["event_id"] == (
                "s1:left:7:started"
            )
            assert last(seen, "crampwatch/t6/status").text == "online"
            assert "s3cret" not in caplog.text
        finally:
            sub.close()
        # Plain TCP or a client without the CA cannot talk to this listener.
        plain = settings_for(broker, "t6b", username="bed", password_file=str(tmp_path / "pw"))
        h2 = harness_factory(plain)
        h2.pub.start()
        await asyncio.sleep(0.8)
        assert not h2.pub.connected and h2.pub.statistics().connect_attempts >= 1
    finally:
        broker.stop()


def test_unreadable_credentials_are_config_errors(tmp_path: Path) -> None:
    from firmware_bridge.errors import ConfigError

    loop = asyncio.new_event_loop()
    try:
        with Outbox(tmp_path / "o.sqlite3") as box:
            for settings, match in (
                (MqttSettings(node_id="x", password_file=str(tmp_path / "nope")), "password_file"),
                (
                    MqttSettings(node_id="x", password_env="CW_TEST_UNSET_VARIABLE"),
                    "CW_TEST_UNSET_VARIABLE",
                ),
                (
                    MqttSettings(node_id="x", tls=True, tls_ca_file=str(tmp_path / "no-ca.pem")),
                    "TLS",
                ),
            ):
                pub = MqttPublisher(settings, box, on_command=lambda _c: None, loop=loop)
                with pytest.raises(ConfigError, match=match):
                    pub.start()
    finally:
        loop.close()


async def test_unreachable_broker_retried_at_the_cap_then_backlog_sent_in_order(
    tmp_path: Path, harness_factory: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    broker = Broker(tmp_path / "late")
    # A persistent-session consumer, so nothing published before it re-subscribes is lost to it.
    consumer = {"client_id": "h7-t8-consumer", "clean_session": False}
    broker.start()
    Subscriber(broker, ["crampwatch/t8/cramp/event"], **consumer).close()  # type: ignore[arg-type]
    broker.stop()  # from here the port refuses connections
    h = harness_factory(
        settings_for(broker, "t8", reconnect_min_delay_s=0.1, reconnect_max_delay_s=0.4)
    )
    with caplog.at_level(logging.DEBUG, logger="bedside.live.mqtt"):
        h.pub.start()
        for n in range(5):
            h.pub.publish_event(cramp(n))
        await asyncio.sleep(2.5)
    stats = h.pub.statistics()
    # 0.1, 0.2, 0.4, 0.4, ...: about 8 attempts in 2.5 s, never a busy loop.
    assert 4 <= stats.connect_attempts <= 12, stats
    assert stats.connects == 0 and stats.outbox_pending == 5
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage().split(";")[0] for r in warnings] == [
        f"MQTT: broker 127.0.0.1:{broker.port} unreachable"
    ]
    broker.start()
    try:
        sub = Subscriber(broker, ["crampwatch/t8/cramp/event"], **consumer)  # type: ignore[arg-type]
        try:
            seen = await sub.until(lambda ms: len(ms) >= 5, timeout_s=5)
            ids = [json.loads(m.payload)["event_id"] for m in seen]
            assert ids == [f"s1:left:{n}:started" for n in range(5)]
        finally:
            sub.close()
        await eventually(lambda: len(h.outbox) == 0)
    finally:
        broker.stop()


async def test_broker_restart_with_messages_in_flight_loses_and_reorders_nothing(
    tmp_path: Path, harness_factory: Callable[..., Harness]
) -> None:
    """Events handed to paho but not yet acknowledged when the broker dies are re-sent by paho
    after the reconnect; those never handed over follow from the outbox, in order."""
    broker = Broker(tmp_path / "inflight")
    broker.start()
    consumer = {"client_id": "h7-inflight-consumer", "clean_session": False}
    sub = Subscriber(broker, ["crampwatch/t10/cramp/event"], **consumer)  # type: ignore[arg-type]
    try:
        h = harness_factory(settings_for(broker, "t10"))
        h.pub.start()
        await eventually(lambda: h.pub.connected)
        n_events = 300
        for n in range(n_events // 2):
            h.pub.publish_event(cramp(n))
        broker.stop()  # mid-stream: some sent and acked, some in flight, most still in the outbox
        stranded = len(h.outbox)
        for n in range(n_events // 2, n_events):
            h.pub.publish_event(cramp(n))
        broker.start()
        await eventually(lambda: len(h.outbox) == 0, timeout_s=20)
        expected = [f"s1:left:{n}:started" for n in range(n_events)]
        seen = await sub.until(
            lambda ms: {json.loads(m.payload)["event_id"] for m in ms} >= set(expected), 10
        )
    finally:
        sub.close()
        broker.stop()
    first: dict[str, bytes] = {}
    for m in seen:
        event_id = json.loads(m.payload)["event_id"]
        assert first.setdefault(event_id, m.payload) == m.payload
    assert list(first) == expected
    assert stranded > 0  # the outage really caught unacknowledged events
    assert h.pub.statistics().disconnects == 1


async def test_legacy_discovery_under_a_custom_prefix(
    broker: Broker, harness_factory: Callable[..., Harness]
) -> None:
    settings = settings_for(broker, "t11", discovery_prefix="ha2", discovery_legacy=True)
    h = harness_factory(settings, republish_delay=lambda: 0.05)
    h.pub.start()
    await eventually(lambda: h.pub.connected)
    sub = Subscriber(broker, ["ha2/#", "homeassistant/#"])
    try:
        entities = len(discovery_messages(node="t11", base_topic="b", legacy=True))
        seen = await sub.until(lambda ms: len(ms) >= entities)
        await asyncio.sleep(0.2)  # nothing more (and nothing under the default prefix)
        assert len(sub.messages) == entities and all(m.retain for m in seen)
        for m in seen:
            _, platform, _object_id, _ = m.topic.split("/")
            check_component(json.loads(m.payload), "crampwatch/t11", legacy_platform=platform)
        # HA's birth message on the configured prefix triggers the re-publish.
        sub.publish("ha2/status", "online")
        await sub.until(lambda ms: len(ms) >= 29)  # 14 configs again + our own 'online'
        assert h.pub.statistics().ha_restarts == 1
    finally:
        sub.close()


async def test_stop_sends_the_outbox_before_going_offline(
    broker: Broker, harness_factory: Callable[..., Harness]
) -> None:
    h = harness_factory(settings_for(broker, "t12"))
    sub = Subscriber(broker, ["crampwatch/t12/cramp/event", "crampwatch/t12/summary/night",
                              "crampwatch/t12/status"])  # fmt: skip
    try:
        h.pub.start()
        await eventually(lambda: h.pub.connected)
        for n in range(5):
            h.pub.publish_event(cramp(n))
        h.pub.publish_summary({"night": "2026-11-26", "cramps": 5})
        await h.pub.stop()  # at once: nothing has been acknowledged yet
        assert len(h.outbox) == 0
        seen = await sub.until(lambda ms: ms[-1].text == "offline")
        topics = [m.topic.rsplit("/", 1)[1] for m in seen if m.text != "online"]
        assert topics == ["event"] * 5 + ["night", "status"]
    finally:
        sub.close()
