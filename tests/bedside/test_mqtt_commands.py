"""Command freshness rules and robustness, without a broker (the loop-side handler is fed directly;
the broker tests cover delivery through paho's thread)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bedside.config.mqtt import MqttSettings
from bedside.live.ha_discovery import COMMANDS
from bedside.live.mqtt import (
    COMMAND_MAX_BYTES,
    COMMAND_VALUES,
    SOUND_COMMAND_INTERVAL_S,
    SOUND_COMMANDS,
    Command,
    MqttPublisher,
)
from bedside.live.outbox import Outbox

NOW = 1_795_000_000.0  # 2026-11-18T11:06:40Z, s since the epoch
BASE = "crampwatch/c1"


class Rig:
    def __init__(self, outbox: Outbox, loop: asyncio.AbstractEventLoop) -> None:
        self.commands: list[Command] = []
        self.pub = MqttPublisher(
            MqttSettings(node_id="c1", command_max_age_s=10.0),
            outbox,
            on_command=self.commands.append,
            loop=loop,
            clock=lambda: NOW,
        )

    def deliver(self, name: str, payload: bytes | str, *, retain: bool = False) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        self.pub._on_message(f"{BASE}/cmd/{name}", data, retain)

    def counts(self) -> tuple[int, int, int]:
        s = self.pub.statistics()
        return s.commands_accepted, s.commands_stale, s.commands_bad


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    loop = asyncio.new_event_loop()
    try:
        with Outbox(tmp_path / "o.sqlite3") as box:
            yield Rig(box, loop)
    finally:
        loop.close()


@pytest.mark.parametrize(
    ("payload", "accepted"),
    [
        ("PRESS", True),  # no time in it: acted on when it arrives
        ("", True),
        (json.dumps({"value": "PRESS", "ts": NOW}), True),
        (json.dumps({"value": "PRESS", "ts": NOW - 10.0}), True),  # exactly the window
        (json.dumps({"value": "PRESS", "ts": NOW - 10.5}), False),
        (json.dumps({"value": "PRESS", "ts": NOW + 60.0}), False),  # clock skew
        (json.dumps({"ts": "2026-11-18T11:06:40+00:00"}), True),  # == NOW, ISO with offset
        (json.dumps({"ts": "2026-11-18T11:06:40Z"}), True),
        (json.dumps({"ts": "2026-11-18T11:06:40"}), True),  # naive = UTC
        (json.dumps({"ts": "2026-11-18T12:06:40+01:00"}), True),  # same instant, other zone
        (json.dumps({"ts": "2026-11-18T11:06:40+01:00"}), False),  # an hour old
    ],
)
def test_freshness_window(rig: Rig, payload: str, accepted: bool) -> None:
    rig.deliver("test_prompt", payload)
    assert len(rig.commands) == int(accepted)
    assert rig.counts() == ((1, 0, 0) if accepted else (0, 1, 0))


def test_value_and_time_reach_the_daemon(rig: Rig) -> None:
    rig.deliver("label_last", json.dumps({"value": "false_alarm", "ts": NOW - 1}))
    assert rig.commands == [Command(name="label_last", value="false_alarm", sent_at=NOW - 1)]


@pytest.mark.parametrize(
    "payload",
    ["{nope", '{"ts": "yesterday"}', '{"ts": true}', '{"ts": NaN}', '{"ts": null}'],
)
def test_unreadable_payloads_are_counted_not_acted_on(rig: Rig, payload: str) -> None:
    rig.deliver("silence", payload)
    assert rig.commands == [] and rig.counts() == (0, 0, 1)


def test_retained_and_unknown_commands_are_dropped(rig: Rig) -> None:
    rig.deliver("test_prompt", json.dumps({"ts": NOW}), retain=True)
    rig.deliver("reboot", "PRESS")
    assert rig.commands == [] and rig.counts() == (0, 1, 1)


def test_a_failing_handler_does_not_break_the_publisher(rig: Rig) -> None:
    def boom(_c: Command) -> None:
        raise RuntimeError("daemon bug")

    rig.pub._on_command = boom
    rig.deliver("silence", "PRESS")
    rig.deliver("silence", "PRESS")
    assert rig.counts() == (2, 0, 0)


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(["test_prompt", "silence", "label_last", "x", ""]),
    payload=st.one_of(
        st.binary(max_size=200),
        st.dictionaries(
            st.sampled_from(["value", "ts", "other"]),
            st.one_of(st.none(), st.booleans(), st.floats(), st.integers(), st.text(max_size=30)),
        ).map(lambda d: json.dumps(d).encode()),
    ),
    retain=st.booleans(),
)
def test_any_payload_is_handled_without_raising(
    tmp_path_factory: pytest.TempPathFactory, name: str, payload: bytes, retain: bool
) -> None:
    loop = asyncio.new_event_loop()
    try:
        with Outbox(tmp_path_factory.mktemp("fuzz") / "o.sqlite3") as box:
            r = Rig(box, loop)
            r.deliver(name, payload, retain=retain)
            limited = r.pub.statistics().commands_limited
            assert sum(r.counts()) + limited == 1  # accepted, stale, bad or limited: once
            assert len(r.commands) == r.counts()[0]
    finally:
        loop.close()


def test_every_command_has_a_schema() -> None:
    assert set(COMMAND_VALUES) == set(COMMANDS)
    assert set(SOUND_COMMANDS) <= set(COMMANDS)


MARKER = "hunter2-SECRET"  # stands for anything a payload may carry: it must never be logged


@pytest.mark.parametrize(
    ("name", "payload", "why"),
    [
        ("test_prompt", b"\xff\xfe\x00binary", "binary"),
        ("test_prompt", json.dumps([MARKER, "PRESS"]).encode(), "expected an object"),
        ("test_prompt", b"[" * 20 + b"]" * 20, ""),  # too deep or not an object: either
        ("silence", b"42", "expected an object"),
        ("silence", json.dumps(MARKER).encode(), "expected an object"),
        ("silence", ('{"value": "PRESS", "pad": "' + "x" * 300 + '"}').encode(), "more than 256"),
        ("silence", json.dumps({"value": "PRESS", "why": MARKER}).encode(), "unknown key"),
        ("silence", json.dumps({"value": {"nested": MARKER}}).encode(), "nested"),
        ("silence", json.dumps({"value": 1}).encode(), "not a string"),
        ("label_last", json.dumps({"value": MARKER}).encode(), "not one of false_alarm"),
        ("stretch_done", MARKER.encode(), "not one of PRESS"),
        ("silence", b'{"ts": Infinity}', "is not allowed"),
        ("silence", b'{"ts": 1e400}', "too large"),
    ],
)
def test_commands_outside_their_schema_are_refused_counted_and_never_quoted(
    rig: Rig, caplog: pytest.LogCaptureFixture, name: str, payload: bytes, why: str
) -> None:
    with caplog.at_level("DEBUG", logger="bedside.live.mqtt"):
        rig.deliver(name, payload)
    assert rig.commands == [] and rig.counts() == (0, 0, 1)
    [record] = [r for r in caplog.records if r.name == "bedside.live.mqtt"]
    assert why in record.getMessage() and f"{name} refused ({len(payload)} bytes)" in (
        record.getMessage())
    assert MARKER not in caplog.text and "xxxx" not in caplog.text


def test_the_documented_values_are_accepted(rig: Rig) -> None:
    for name, values in COMMAND_VALUES.items():
        for value in values:
            rig.deliver(name, json.dumps({"value": value, "ts": NOW}))
            rig.pub._last_sound.clear()  # only the schema here; the rate limit below
    assert [(c.name, c.value) for c in rig.commands] == [
        (n, v) for n, vs in COMMAND_VALUES.items() for v in vs]
    assert len(json.dumps({"value": "false_alarm", "ts": "2026-11-27T01:20:00.123456+01:00"})
               ) < COMMAND_MAX_BYTES


def test_commands_that_make_sound_are_rate_limited(rig: Rig) -> None:
    for _ in range(5):  # an automation gone round in a loop
        rig.deliver("test_prompt", "PRESS")
        rig.deliver("silence", "PRESS")  # silence makes no sound: never limited
    assert [c.name for c in rig.commands].count("test_prompt") == 1
    assert [c.name for c in rig.commands].count("silence") == 5
    assert rig.pub.statistics().commands_limited == 4
    # once the interval has passed, the next one plays
    rig.pub._last_sound["test_prompt"] -= SOUND_COMMAND_INTERVAL_S
    rig.deliver("test_prompt", "PRESS")
    assert [c.name for c in rig.commands].count("test_prompt") == 2
