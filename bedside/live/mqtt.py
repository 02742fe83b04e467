"""MQTT publisher: availability, retained states, events through the durable outbox, HA discovery,
and fresh-only commands. The only module of crampwatch that imports paho.

Threads: paho runs its network loop on its own thread (``loop_start``) and calls us back there.
Every paho callback only hands its arguments to the asyncio loop with
``loop.call_soon_threadsafe``; all state (the outbox, the in-flight map, counters) lives on the
loop thread. ``publish_*`` never wait for the broker: an event is stored in the outbox (one sqlite
commit) and handed to paho only while connected; rows leave the outbox on PUBACK.

Delivery (docs/mqtt.md): events at least once and in order (consumers de-duplicate on
``event_id``); states retained, latest value re-sent on every (re)connect and when Home Assistant
announces ``online``; availability ``online`` retained on connect, ``offline`` as the will and
on a clean ``stop()``.

Errors: credential and TLS file problems raise ``ConfigError`` from ``start()``; a broker that is
down or refuses us is logged (once per distinct reason), counted and retried with paho's capped
exponential backoff; it never raises into the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import random
import secrets
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from bedside.config.mqtt import MqttSettings
from bedside.live.ha_discovery import (
    COMMANDS,
    EVENT_TYPES,
    LINK_STATES,
    SCHEMA_VERSION,
    Topics,
    discovery_messages,
    removal_messages,
)
from bedside.live.outbox import Outbox
from bedside.stream.records import EventRecord, loads_line
from detector.types import EventKind
from firmware_bridge.errors import ConfigError, PublishError
from firmware_bridge.jsonsafe import loads_object

log = logging.getLogger(__name__)
paho_log = logging.getLogger(f"{__name__}.paho")

PAYLOAD_NONE = "None"  # HA MQTT sensors read the payload "None" as 'unknown' (mqtt/const.py)
# Outbox rows handed to paho before their PUBACK. One, so that order never depends on how paho
# re-sends its queue after a reconnect: with 20, a broker restart mid-stream delivered a newer
# event before older ones (test_broker_restart_with_messages_in_flight..., about 1 run in 15).
# One round trip per event still drains a backlog at a few hundred events/s (BENCHMARKS.md).
INFLIGHT_WINDOW = 1
DRAIN_TIMEOUT_S = 10.0  # after a reconnect, wait this long for paho's re-sent rows to be acked
# Command schema (docs/mqtt.md, "Commands"): the JSON form of a Home Assistant press is about
# 60 bytes ({"value": "false_alarm", "ts": "2026-11-27T01:20:00.123456+01:00"}); 256 leaves room
# and keeps any payload far from the JSON parser's recursion limit.
COMMAND_MAX_BYTES = 256
COMMAND_VALUES: dict[str, tuple[str, ...]] = {
    "test_prompt": ("PRESS",),
    "silence": ("PRESS", "night"),  # night: silent until [prompt] silence_night_until
    "label_last": ("false_alarm",),
    "stretch_done": ("PRESS",),
}
# Commands that make the bedside speaker talk: at most one per this many seconds each, so a
# looping automation or a stuck button cannot keep a sleeper awake.
SOUND_COMMANDS = ("test_prompt", "stretch_done")
SOUND_COMMAND_INTERVAL_S = 5.0


@dataclass(frozen=True, slots=True)
class Command:
    """A fresh command from a button: ``name`` in ``COMMANDS``, ``value`` its payload_press.

    ``sent_at`` is the sender's wall clock (s since the epoch) when the payload carried a ``ts``.
    """

    name: str
    value: str
    sent_at: float | None


@dataclass(frozen=True, slots=True)
class PublisherStatistics:
    connected: bool
    connect_attempts: int  # TCP connects tried (paho's on_pre_connect)
    connects: int  # successful CONNACKs
    connect_failures: int  # refused by the broker or unreachable
    disconnects: int  # lost connections after a successful connect
    events_stored: int  # publish_event/publish_summary rows written to the outbox
    messages_sent: int  # outbox rows handed to paho
    messages_acked: int  # outbox rows removed on PUBACK
    outbox_pending: int
    outbox_dropped: int  # dropped by the outbox bound
    states_published: int
    discovery_published: int  # discovery messages (each device or entity config counts one)
    ha_restarts: int  # 'online' seen on <prefix>/status
    commands_accepted: int
    commands_stale: int  # retained, or older than command_max_age_s
    commands_bad: int  # unknown command, or a payload outside its schema
    commands_limited: int  # sound-making commands within SOUND_COMMAND_INTERVAL_S of the last


def sw_version() -> str:
    """The installed crampwatch version (``0+unknown`` from a source tree not installed)."""
    try:
        return metadata.version("crampwatch")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def read_password(settings: MqttSettings) -> str | None:
    """The broker password from ``password_file`` or ``password_env``; never logged."""
    if settings.password_file:
        try:
            with open(settings.password_file, encoding="utf-8") as fh:
                return fh.readline().rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(
                f"[mqtt]: key 'password_file': cannot read {settings.password_file}: "
                f"{exc.strerror}",
                section="mqtt",
                key="password_file",
            ) from exc
    if settings.password_env:
        value = os.environ.get(settings.password_env)
        if value is None:
            raise ConfigError(
                f"[mqtt]: key 'password_env': environment variable {settings.password_env} "
                "is not set",
                section="mqtt",
                key="password_env",
            )
        return value
    return None


def new_client(settings: MqttSettings, client_id: str) -> paho.Client:
    """A paho client (MQTT 3.1.1, clean session) with the settings' reconnect backoff,
    credentials and TLS; ``ConfigError`` when a credential or TLS file is unusable."""
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=True,  # MQTT 3.1.1 clean session: no commands queued while we were away
        protocol=paho.MQTTv311,
    )
    # paho hints int, but _reconnect_wait does float arithmetic; tests use sub-second delays.
    client.reconnect_delay_set(
        min_delay=settings.reconnect_min_delay_s,  # type: ignore[arg-type]
        max_delay=settings.reconnect_max_delay_s,  # type: ignore[arg-type]
    )
    password = read_password(settings)
    if settings.username or password is not None:
        client.username_pw_set(settings.username or None, password)
    if settings.tls:
        try:
            client.tls_set(
                ca_certs=settings.tls_ca_file or None,
                certfile=settings.tls_cert_file or None,
                keyfile=settings.tls_key_file or None,
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"[mqtt]: TLS files unusable (tls_ca_file/tls_cert_file/tls_key_file): {exc}",
                section="mqtt",
            ) from exc
    return client


def _format_state(value: object) -> str:
    if value is None:
        return PAYLOAD_NONE
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return PAYLOAD_NONE
        return json.dumps(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return json.dumps({"schema": SCHEMA_VERSION, **value}, separators=(",", ":"))
    raise TypeError(f"state value must be None, bool, number, str or a mapping, got {value!r}")


class BadCommandError(ValueError):
    """A command payload outside its schema; the message is short and never quotes it."""


def parse_command_payload(name: str, payload: bytes) -> tuple[str, float | None]:
    """``(value, sent_at)`` of a command payload, checked against its schema: at most
    ``COMMAND_MAX_BYTES``, UTF-8 text, either a bare value or a JSON object with only
    ``value`` and ``ts``; the value one of ``COMMAND_VALUES[name]``; ``ts`` seconds since the
    epoch or ISO 8601. ``BadCommandError`` (a summary, never the payload) otherwise."""
    if len(payload) > COMMAND_MAX_BYTES:
        raise BadCommandError(f"more than {COMMAND_MAX_BYTES} bytes")
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise BadCommandError("not UTF-8 text (binary)") from exc
    sent_at = None
    if text.startswith(("{", "[", '"')) or text[:1].isdigit() or text[:1] == "-":
        try:
            obj = loads_object(text.encode(), max_bytes=COMMAND_MAX_BYTES, max_depth=1)
        except ValueError as exc:  # BadCommandError, or jsonsafe's BadJsonError
            raise BadCommandError(str(exc)) from exc
        unknown = obj.keys() - {"value", "ts"}
        if unknown:
            raise BadCommandError(f"{len(unknown)} unknown key(s); allowed: value, ts")
        raw = obj.get("value", "PRESS")
        if not isinstance(raw, str):
            raise BadCommandError(f"'value' is a {type(raw).__name__}, not a string")
        value = raw
        if "ts" in obj:
            sent_at = _parse_ts(obj["ts"])
            if sent_at is None:
                raise BadCommandError("'ts' is neither epoch seconds nor ISO 8601")
    else:
        value = text or "PRESS"
    if value not in COMMAND_VALUES[name]:
        raise BadCommandError(
            f"value ({len(value)} characters) not one of {', '.join(COMMAND_VALUES[name])}"
        )
    return value, sent_at


def _parse_ts(value: object) -> float | None:
    """A command's ``ts``: s since the epoch or ISO 8601 (naive = UTC); None if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an int beyond float
            return None
        return seconds if math.isfinite(seconds) else None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    return None


class MqttPublisher:
    """Publishes crampwatch to one broker; see the module docstring for threads and delivery.

    ``on_command`` is called on the asyncio loop with each fresh ``Command``. ``republish_delay``
    returns the wait (s) before re-publishing after Home Assistant restarts (default: uniform in
    the configured range). ``clock`` is the wall clock (s since the epoch) used for command age.
    """

    def __init__(
        self,
        settings: MqttSettings,
        outbox: Outbox,
        *,
        on_command: Callable[[Command], object],
        loop: asyncio.AbstractEventLoop | None = None,
        legs: tuple[str, ...] = ("",),
        wearable_addresses: tuple[str, ...] = (),
        republish_delay: Callable[[], float] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._outbox = outbox
        self._on_command = on_command
        self._loop = loop if loop is not None else asyncio.get_running_loop()
        self.legs = legs
        self._wearable_addresses = wearable_addresses
        self._republish_delay = republish_delay or (
            lambda: random.uniform(
                settings.ha_republish_min_delay_s, settings.ha_republish_max_delay_s
            )
        )
        self._clock = clock
        self.node = settings.resolved_node_id()
        self.topics = Topics(settings.resolved_base_topic())
        self._client: paho.Client | None = None
        self._connected = False
        self._stopping = False  # stop() has begun: no new connection is taken up
        self._closing = False  # stop() is past sending the outbox: nothing new is handed to paho
        self._finished = False  # stop() is done: late paho callbacks are ignored
        self._states: dict[str, str] = {}  # topic -> last payload, re-sent on every connect
        self._sent_at: dict[str, float] = {}  # topic -> monotonic time it was last sent
        self._active_legs: set[str] = set()
        self._last: dict[str, object] | None = None
        self._inflight: dict[int, int] = {}  # paho mid -> outbox row id
        self._last_sent_row = 0  # highest row id handed to paho in this process
        # After a reconnect paho re-sends its unacknowledged message itself, from its own
        # thread, after our on_connect; new rows wait until it is acknowledged ("draining"),
        # or a newer row could overtake an older one.
        self._draining = False
        self._drain_handle: asyncio.TimerHandle | None = None
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._republish_handle: asyncio.TimerHandle | None = None
        self._last_failure = ""
        self._counts = dict.fromkeys(
            (
                "connect_attempts",
                "connects",
                "connect_failures",
                "disconnects",
                "events_stored",
                "messages_sent",
                "messages_acked",
                "states_published",
                "discovery_published",
                "ha_restarts",
                "commands_accepted",
                "commands_stale",
                "commands_bad",
                "commands_limited",
            ),
            0,
        )
        self._last_sound: dict[str, float] = {}  # sound-making command -> monotonic time

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Configure paho and start connecting in the background (returns at once)."""
        if self._client is not None:
            raise RuntimeError("MqttPublisher.start() called twice")
        s = self._settings
        # no cramp until an event says so
        self._states.setdefault(self.topics.state("cramp_active"), "OFF")
        self._states.setdefault(self.topics.state("cramp_legs"), _format_state({"legs": []}))
        client = new_client(s, s.resolved_client_id())
        client.on_log = self._paho_log
        client.max_inflight_messages_set(20)  # paho's default; covers states and discovery
        client.will_set(self.topics.status, "offline", qos=1, retain=True)
        client.on_pre_connect = self._paho_pre_connect
        client.on_connect = self._paho_connect
        client.on_connect_fail = self._paho_connect_fail
        client.on_disconnect = self._paho_disconnect
        client.on_publish = self._paho_publish
        client.on_message = self._paho_message
        self._client = client
        log.info(
            "MQTT: connecting to %s:%d as %s (base topic %s%s)",
            s.host,
            s.port,
            s.resolved_client_id(),
            self.topics.base,
            ", TLS" if s.tls else "",
        )
        client.connect_async(s.host, s.port, keepalive=s.keepalive_s)
        client.loop_start()

    async def stop(self, timeout_s: float = 3.0) -> None:
        """Send what the outbox holds (up to ``timeout_s``), publish ``offline`` (retained), wait
        up to ``timeout_s`` for its PUBACK, disconnect.

        Events still not acknowledged stay in the outbox and are sent after the next start.
        """
        client = self._client
        if client is None or self._stopping:
            return
        self._stopping = True
        if self._republish_handle is not None:
            self._republish_handle.cancel()
        deadline = time.monotonic() + timeout_s
        while self._connected and len(self._outbox) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)  # e.g. the nightly summary published just before stop()
        self._closing = True
        if self._drain_handle is not None:
            self._drain_handle.cancel()
        if self._connected:
            info = client.publish(self.topics.status, "offline", qos=1, retain=True)
            waiter = self._waiter(info.mid)
            try:
                await asyncio.wait_for(waiter, timeout_s)
            except TimeoutError:
                log.warning("MQTT: no acknowledgement of 'offline' within %.1f s", timeout_s)
        client.disconnect()
        await self._loop.run_in_executor(None, client.loop_stop)
        self._connected = False
        self._finished = True  # the caller may close the outbox now
        log.info("MQTT: stopped (%d event(s) left in the outbox)", len(self._outbox))

    @property
    def connected(self) -> bool:
        return self._connected

    # ------------------------------------------------------------------ publishing

    def publish_event(self, record: EventRecord) -> int:
        """Store a detector event (docs/contracts.md shape) in the outbox, then publish it.

        ``cramp_started``/``cramp_ended``/``cramp_recorded`` go to ``cramp/event`` (QoS 1, not
        retained) with ``event_type`` (= ``event``) and ``schema`` added; started and ended
        update ``cramp/active``, ended and recorded (a cramp already over) ``cramp/last``.
        ``cramp_update`` goes to ``cramp/update`` (QoS 0, not stored: the next update
        supersedes it). Returns the outbox row id (0 for updates).
        """
        event = record.to_json()  # the MQTT payload is the event JSON (docs/contracts.md)
        kind = record.kind.value
        leg = record.leg
        if record.kind is EventKind.CRAMP_UPDATE:
            if self._connected and self._client is not None:
                payload = json.dumps({"schema": SCHEMA_VERSION, **event}, separators=(",", ":"))
                self._client.publish(self.topics.of("cramp/update"), payload, qos=0)
            return 0
        if kind not in EVENT_TYPES:
            raise ValueError(f"event must be one of {EVENT_TYPES} or cramp_update, got {kind!r}")
        row_id = self._outbox.put(
            {**event, "event_type": kind, "schema": SCHEMA_VERSION}, topic=self.topics.event
        )
        self._counts["events_stored"] += 1
        self._flush()
        if record.kind is EventKind.CRAMP_STARTED:
            self._active_legs.add(leg)
        else:
            if record.kind is EventKind.CRAMP_ENDED:
                self._active_legs.discard(leg)
            self._last = {
                "event_id": record.event_id,
                "leg": leg,
                "duration_s": record.duration_s,
                "time": record.time,
                "label": None,
            }
            self.publish_state("last", self._last)
        self.publish_state("cramp_active", bool(self._active_legs))
        self.publish_state("cramp_legs", {"legs": sorted(self._active_legs)})
        return row_id

    def label_last(self, label: str | None) -> None:
        """Set the ``label`` of the last cramp (e.g. ``false_alarm``); re-publish ``cramp/last``."""
        if self._last is None:
            log.info("MQTT: no cramp yet to label %r", label)
            return
        self._last = {**self._last, "label": label}
        self.publish_state("last", self._last)

    def publish_state(self, name: str, value: object, leg: str = "") -> None:
        """Retained state ``name`` (of ``NODE_STATES``, or of ``LEG_STATES`` for ``leg``); sent
        now if connected, and again on every reconnect. bool -> ON/OFF, None/NaN -> "None" (HA:
        unknown), mapping -> JSON. An unchanged value is sent again once ``state_refresh_s``
        has passed, so that sensors with ``expire_after`` (battery) never expire while we run."""
        topic = self.topics.state(name, leg)  # ValueError for an unknown name
        if name == "link_state" and value not in LINK_STATES:
            raise ValueError(f"link_state must be one of {LINK_STATES}, got {value!r}")
        payload = _format_state(value)
        now = time.monotonic()
        fresh = now - self._sent_at.get(topic, -math.inf) < self._settings.state_refresh_s
        if self._connected and self._states.get(topic) == payload and fresh:
            return  # already sent on this connection (or by the republish on connect)
        self._states[topic] = payload
        if self._connected and self._client is not None:
            self._client.publish(topic, payload, qos=1, retain=True)
            self._sent_at[topic] = now
            self._counts["states_published"] += 1

    def publish_summary(self, summary: Mapping[str, object]) -> int:
        """The nightly summary, retained on ``summary/night``, through the outbox (durable).

        ``summary`` is flat JSON (e.g. ``night``, ``cramps``, ``total_cramp_s``); its
        ``event_id`` defaults to ``summary:<night>`` (or the current time). Returns the row id.
        """
        event_id = summary.get("event_id") or f"summary:{summary.get('night', self._clock())}"
        row_id = self._outbox.put(
            {**summary, "event_id": event_id, "schema": SCHEMA_VERSION},
            topic=self.topics.summary,
            retain=True,
        )
        self._counts["events_stored"] += 1
        self._flush()
        return row_id

    def republish(self) -> None:
        """Send discovery and every known state again (after HA restarted)."""
        self._republish_handle = None
        if not self._connected or self._client is None:
            return
        self._publish_discovery()
        now = time.monotonic()
        for topic, payload in self._states.items():
            self._client.publish(topic, payload, qos=1, retain=True)
            self._sent_at[topic] = now
            self._counts["states_published"] += 1

    def purge_discovery(self) -> int:
        """Clear every discovery topic of this node (both modes) with an empty retained payload,
        which makes Home Assistant delete the device and its entities. Returns the topic count;
        0 when not connected."""
        client = self._client
        if client is None or not self._connected:
            return 0
        topics = [
            topic
            for legacy in (False, True)
            for topic in removal_messages(
                node=self.node,
                base_topic=self.topics.base,
                prefix=self._settings.discovery_prefix,
                legacy=legacy,
                legs=self.legs,
            )
        ]
        for topic in topics:
            client.publish(topic, b"", qos=1, retain=True)
        return len(topics)

    def unacknowledged_events(self) -> list[EventRecord]:
        """The cramp events in the outbox still waiting for their PUBACK (this run's or an
        earlier one's), oldest first; rows that are not events (the summary) are left out."""
        records: list[EventRecord] = []
        for row in self._outbox.pending():
            if row.topic != self.topics.event:
                continue
            try:
                records.append(EventRecord.from_json(loads_line(row.payload)))
            except ValueError:  # a row of an older schema: it is still sent, just not here
                continue
        return records

    def statistics(self) -> PublisherStatistics:
        outbox = self._outbox.statistics()
        return PublisherStatistics(
            connected=self._connected,
            outbox_pending=outbox.pending,
            outbox_dropped=outbox.dropped_overflow + outbox.dropped_age,
            **self._counts,
        )

    # ------------------------------------------------------------------ loop-thread handlers

    def _flush(self) -> None:
        """Hand the oldest outbox rows not yet given to paho to it, up to the in-flight window."""
        client = self._client
        if client is None or not self._connected or self._closing or self._draining:
            return
        room = INFLIGHT_WINDOW - len(self._inflight)
        if room <= 0:
            return
        for row in self._outbox.pending(room, after=self._last_sent_row):
            info = client.publish(row.topic, row.payload, qos=row.qos, retain=row.retain)
            # NO_CONN: paho keeps a QoS 1 message queued and sends it after reconnecting.
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                log.warning("MQTT: publish of %s refused by paho: %s", row.event_id, info.rc)
                break
            self._inflight[info.mid] = row.row_id
            self._last_sent_row = row.row_id
            self._counts["messages_sent"] += 1

    def _on_connected(self, failed: bool, reason: str) -> None:
        s = self._settings
        if failed:
            self._counts["connect_failures"] += 1
            level = logging.ERROR if reason != self._last_failure else logging.DEBUG
            self._last_failure = reason
            log.log(
                level,
                "MQTT: broker %s:%d refused the connection: %s (check username and "
                "password_file/password_env); retrying with backoff up to %g s",
                s.host,
                s.port,
                reason,
                s.reconnect_max_delay_s,
            )
            return
        client = self._client
        if client is None or self._stopping:
            return
        self._connected = True
        self._last_failure = ""
        self._counts["connects"] += 1
        log.info(
            "MQTT: connected to %s:%d (%d event(s) waiting in the outbox)",
            s.host,
            s.port,
            len(self._outbox),
        )
        client.publish(self.topics.status, "online", qos=1, retain=True)
        client.subscribe([(self.topics.command_filter, 1), (self._ha_status_topic, 1)])
        self.republish()
        if self._inflight:
            self._draining = True
            if self._drain_handle is not None:
                self._drain_handle.cancel()
            self._drain_handle = self._loop.call_later(DRAIN_TIMEOUT_S, self._drain_expired)
        self._flush()

    def _drain_expired(self) -> None:
        """paho did not get every re-sent row acknowledged in time: forget what it holds and
        send every outbox row again, oldest first (consumers de-duplicate on event_id)."""
        self._drain_handle = None
        if not self._draining:
            return
        log.warning(
            "MQTT: %d event(s) re-sent after reconnecting were not acknowledged within %g s; "
            "sending the outbox again from its oldest row",
            len(self._inflight),
            DRAIN_TIMEOUT_S,
        )
        self._draining = False
        self._inflight.clear()
        self._last_sent_row = 0
        self._flush()

    def _on_connect_failed(self) -> None:
        self._counts["connect_failures"] += 1
        reason = "unreachable"
        level = logging.WARNING if reason != self._last_failure else logging.DEBUG
        self._last_failure = reason
        s = self._settings
        log.log(
            level,
            "MQTT: broker %s:%d unreachable; retrying with backoff up to %g s "
            "(events wait in the outbox)",
            s.host,
            s.port,
            s.reconnect_max_delay_s,
        )

    def _on_disconnected(self, reason: str) -> None:
        if self._connected:
            self._counts["disconnects"] += 1
            if not self._stopping:
                log.warning("MQTT: connection lost (%s); reconnecting", reason)
        self._connected = False

    def _on_published(self, mid: int) -> None:
        if self._finished:
            return
        waiter = self._waiters.pop(mid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        row_id = self._inflight.pop(mid, None)
        if row_id is None:
            return
        if self._outbox.ack(row_id):
            self._counts["messages_acked"] += 1
        if self._draining and not self._inflight:
            self._draining = False
            if self._drain_handle is not None:
                self._drain_handle.cancel()
                self._drain_handle = None
        self._flush()

    def _on_message(self, topic: str, payload: bytes, retain: bool) -> None:
        if topic == self._ha_status_topic:
            if payload.strip() == b"online" and not retain:
                self._counts["ha_restarts"] += 1
                if self._republish_handle is None:
                    delay = self._republish_delay()
                    log.info("MQTT: Home Assistant is online; re-publishing in %.1f s", delay)
                    self._republish_handle = self._loop.call_later(delay, self.republish)
            return
        name = topic.rsplit("/", 1)[-1]
        command = self._parse_command(name, payload, retain)
        if command is None:
            return
        self._counts["commands_accepted"] += 1
        log.info("MQTT: command %s (%s)", command.name, command.value)
        try:
            self._on_command(command)
        except Exception:
            log.exception("MQTT: command handler failed for %s", command.name)

    def _parse_command(self, name: str, payload: bytes, retain: bool) -> Command | None:
        """A fresh, well-formed, not rate-limited command, or None (logged and counted).

        Logs name only a summary (command, size, why), never the payload: it is outside input.
        """
        if retain:
            self._counts["commands_stale"] += 1
            log.warning("MQTT: dropped retained command %s (commands act only when fresh)", name)
            return None
        if name not in COMMANDS:
            self._counts["commands_bad"] += 1
            log.warning("MQTT: unknown command (%d-character name); known: %s", len(name),
                        ", ".join(COMMANDS))
            return None
        try:
            value, sent_at = parse_command_payload(name, payload)
        except BadCommandError as exc:
            self._counts["commands_bad"] += 1
            log.warning("MQTT: command %s refused (%d bytes): %s", name, len(payload), exc)
            return None
        if sent_at is not None:
            age = self._clock() - sent_at
            if abs(age) > self._settings.command_max_age_s:
                self._counts["commands_stale"] += 1
                log.warning(
                    "MQTT: dropped command %s sent %.1f s ago (older than %.0f s, or a clock skew)",
                    name,
                    age,
                    self._settings.command_max_age_s,
                )
                return None
        if name in SOUND_COMMANDS:
            now = time.monotonic()
            last = self._last_sound.get(name)
            if last is not None and now - last < SOUND_COMMAND_INTERVAL_S:
                self._counts["commands_limited"] += 1
                log.warning("MQTT: command %s ignored: it makes sound and came %.1f s after the "
                            "last one (at most one per %.0f s)", name, now - last,
                            SOUND_COMMAND_INTERVAL_S)
                return None
            self._last_sound[name] = now
        return Command(name=name, value=value, sent_at=sent_at)

    def _publish_discovery(self) -> None:
        s, client = self._settings, self._client
        if not s.discovery or client is None:
            return
        for topic, payload in discovery_messages(
            node=self.node,
            base_topic=self.topics.base,
            prefix=s.discovery_prefix,
            legacy=s.discovery_legacy,
            sw_version=sw_version(),
            legs=self.legs,
            wearable_addresses=self._wearable_addresses,
        ):
            client.publish(topic, json.dumps(payload, separators=(",", ":")), qos=1, retain=True)
            self._counts["discovery_published"] += 1

    @property
    def _ha_status_topic(self) -> str:
        return f"{self._settings.discovery_prefix}/status"

    def _waiter(self, mid: int) -> asyncio.Future[None]:
        future: asyncio.Future[None] = self._loop.create_future()
        self._waiters[mid] = future
        return future

    # ------------------------------------------------------------------ paho thread
    # These run on paho's thread: they only pass plain values to the loop.

    def _to_loop(self, func: Callable[..., None], *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: we are shutting down
            self._loop.call_soon_threadsafe(func, *args)

    def _paho_pre_connect(self, _client: paho.Client, _userdata: object) -> None:
        self._to_loop(self._count, "connect_attempts")

    def _paho_connect(
        self, _client: paho.Client, _userdata: object, _flags: object, reason: Any, _props: object
    ) -> None:
        self._to_loop(self._on_connected, bool(reason.is_failure), str(reason))

    def _paho_connect_fail(self, _client: paho.Client, _userdata: object) -> None:
        self._to_loop(self._on_connect_failed)

    def _paho_disconnect(
        self, _client: paho.Client, _userdata: object, _flags: object, reason: Any, _props: object
    ) -> None:
        self._to_loop(self._on_disconnected, str(reason))

    def _paho_publish(
        self, _client: paho.Client, _userdata: object, mid: int, _reason: object, _props: object
    ) -> None:
        self._to_loop(self._on_published, mid)

    def _paho_message(self, _client: paho.Client, _userdata: object, msg: Any) -> None:
        self._to_loop(self._on_message, str(msg.topic), bytes(msg.payload), bool(msg.retain))

    def _paho_log(self, _client: paho.Client, _userdata: object, level: int, text: str) -> None:
        # paho logs every failed reconnect at ERROR ("Client is not connected"); our own lines
        # already say it once per reason, so paho's go to DEBUG, except a crashed callback.
        paho_log.log(
            logging.ERROR if text.startswith("Caught exception") else logging.DEBUG, "%s", text
        )

    def _count(self, name: str) -> None:
        self._counts[name] += 1


# ---------------------------------------------------------------------------- purge


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What ``purge_node`` cleared: every topic it sent an empty retained message to."""

    host: str
    port: int
    node: str
    retained_found: int  # retained messages found under the base topic
    cleared: tuple[str, ...]


class _RetainedCollector:
    """paho callbacks for ``purge_node``; they run on paho's thread and only set events."""

    def __init__(self) -> None:
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.refusal = ""
        self.retained: set[str] = set()
        self._lock = threading.Lock()

    def on_connect(
        self, _client: paho.Client, _userdata: object, _flags: object, reason: Any, _props: object
    ) -> None:
        if reason.is_failure:
            self.refusal = str(reason)
        self.connected.set()

    def on_subscribe(self, *_args: object) -> None:
        self.subscribed.set()

    def on_message(self, _client: paho.Client, _userdata: object, msg: Any) -> None:
        if msg.retain and msg.payload:  # an empty retained payload is already a deletion
            with self._lock:
                self.retained.add(str(msg.topic))

    def topics(self) -> set[str]:
        with self._lock:
            return set(self.retained)


def purge_node(
    settings: MqttSettings,
    *,
    legs: Sequence[str] = ("",),
    listen_s: float = 1.0,
    timeout_s: float = 10.0,
) -> PurgeResult:
    """Remove one node from the broker: its Home Assistant discovery (device and legacy
    per-entity topics, for ``legs``) and every retained message under its base topic (states,
    availability, the night summary, a retained command someone published by mistake).

    Blocking (run it in a thread from async code). It connects with a client id of its own, so
    it never disconnects a running daemon; stop the daemon first, or it publishes its states
    again. An empty retained payload deletes a retained message (MQTT 3.1.1 §3.3.1.3) and makes
    Home Assistant delete the discovered device. ``PublishError`` when the broker cannot be
    reached or refuses us within ``timeout_s``.
    """
    node = settings.resolved_node_id()
    base = settings.resolved_base_topic()
    client = new_client(settings, f"crampwatch-purge-{secrets.token_hex(4)}")
    collector = _RetainedCollector()
    client.on_connect = collector.on_connect
    client.on_subscribe = collector.on_subscribe
    client.on_message = collector.on_message
    client.on_log = lambda _c, _u, _level, text: paho_log.debug("%s", text)
    where = f"{settings.host}:{settings.port}"
    try:
        client.connect(settings.host, settings.port, keepalive=settings.keepalive_s)
    except OSError as exc:
        raise PublishError(f"MQTT broker {where} unreachable: {exc.strerror or exc}") from exc
    client.loop_start()
    try:
        if not collector.connected.wait(timeout_s) or collector.refusal:
            raise PublishError(
                f"MQTT broker {where} "
                + (f"refused the connection: {collector.refusal}" if collector.refusal
                   else f"did not answer within {timeout_s:g} s")
            )
        client.subscribe([(f"{base}/#", 1)])
        if not collector.subscribed.wait(timeout_s):
            raise PublishError(f"MQTT broker {where} did not acknowledge the subscription")
        time.sleep(listen_s)  # the broker sends retained messages right after the SUBACK
        found = collector.topics()
        discovery = {
            topic
            for legacy in (False, True)
            for topic in removal_messages(
                node=node,
                base_topic=base,
                prefix=settings.discovery_prefix,
                legacy=legacy,
                legs=tuple(legs),
            )
        }
        cleared = sorted(found | discovery)
        infos = [client.publish(topic, b"", qos=1, retain=True) for topic in cleared]
        deadline = time.monotonic() + timeout_s
        for info in infos:
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            if not info.is_published():
                raise PublishError(f"MQTT broker {where} did not acknowledge the purge in time")
    finally:
        client.disconnect()
        client.loop_stop()
    log.info("MQTT: purged node %s on %s: %d topic(s) cleared", node, where, len(cleared))
    return PurgeResult(
        host=settings.host, port=settings.port, node=node, retained_found=len(found),
        cleared=tuple(cleared),
    )
