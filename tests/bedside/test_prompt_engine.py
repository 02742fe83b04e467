"""The prompt sequencer on a virtual clock: timing, dips, cooldown, silence, quiet hours, limits."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bedside.config.prompt import PromptSettings, PromptTexts, in_window
from bedside.config.settings import load_settings
from bedside.prompt.engine import (
    Phase,
    PromptSequencer,
    next_occurrence,
    rehearsal,
)
from bedside.stream.records import KINDS, EventRecord
from firmware_bridge.errors import ConfigError
from tests.conftest import record

WALL0 = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)

# Short, round settings so the expected timelines can be read off the rules by eye.
FAST = PromptSettings(
    hold_interval_s=10.0,
    escalation_after_s=35.0,
    escalation_interval_s=20.0,
    dip_grace_s=5.0,
    volume_start_pct=40.0,
    volume_full_pct=100.0,
    volume_ramp_s=20.0,
    cooldown_s=600.0,
    max_sequence_s=300.0,
)

Events = Mapping[float, list[EventRecord]]


def started(leg: str = "left", n: int = 1) -> EventRecord:
    return record({"event": "cramp_started", "event_id": f"s:{leg}:{n}:started", "leg": leg})


def ended(leg: str = "left", n: int = 1) -> EventRecord:
    return record({"event": "cramp_ended", "event_id": f"s:{leg}:{n}:ended", "leg": leg})


def drive(
    seq: PromptSequencer,
    events: Events,
    until: float,
    *,
    wall0: datetime = WALL0,
    step: float = 0.25,
) -> list[tuple[float, str, float]]:
    """Step a virtual clock from 0 to ``until``: events at their times, then a poll."""
    out: list[tuple[float, str, float]] = []
    n = 0
    while n * step <= until + 1e-9:
        t = round(n * step, 6)
        wall = wall0 + timedelta(seconds=t)
        for event in events.get(t, []):
            out += [(t, u.key, u.gain_pct) for u in seq.on_event(event, t, wall)]
        out += [(t, u.key, u.gain_pct) for u in seq.poll(t, wall)]
        n += 1
    return out


def keys_at(timeline: list[tuple[float, str, float]]) -> list[tuple[float, str]]:
    return [(t, k) for t, k, _ in timeline]


def test_sequence_follows_the_cramp() -> None:
    seq = PromptSequencer(FAST)
    timeline = drive(seq, {0.0: [started()], 70.0: [ended()]}, 90.0)
    # opening at once; hold lines every 10 s, none within 5 s (half an interval) of the
    # escalation at 35 s; suggestions every 20 s; the end at 70 s waits out the 5 s dip grace
    assert keys_at(timeline) == [
        (0.0, "opening"),
        (10.0, "hold.0"),
        (20.0, "hold.1"),
        (35.0, "escalation.0"),
        (55.0, "escalation.1"),
        (75.0, "closing"),
    ]
    # volume ramp: 40 % → 100 % over 20 s
    gains = {k: g for _, k, g in timeline}
    assert gains["opening"] == 40.0
    assert gains["hold.0"] == pytest.approx(70.0)
    assert gains["hold.1"] == gains["closing"] == 100.0
    assert seq.phase is Phase.IDLE
    assert seq.counts["sequences"] == 1 and seq.counts["utterances"] == 6


def test_short_cramp_gets_opening_and_closing_only() -> None:
    timeline = drive(PromptSequencer(FAST), {0.0: [started()], 6.0: [ended()]}, 30.0)
    assert keys_at(timeline) == [(0.0, "opening"), (11.0, "closing")]


def test_hold_lines_cycle_without_escalation_and_stop_after_max_sequence() -> None:
    texts = PromptTexts(hold=("a", "b"), escalation=())
    settings = dataclasses.replace(FAST, texts=texts, max_sequence_s=45.0)
    timeline = drive(PromptSequencer(settings), {0.0: [started()]}, 120.0)
    assert keys_at(timeline) == [
        (0.0, "opening"),
        (10.0, "hold.0"),
        (20.0, "hold.1"),
        (30.0, "hold.0"),
        (40.0, "hold.1"),
    ]


def test_a_dip_does_not_restart_the_sequence() -> None:
    seq = PromptSequencer(FAST)
    events = {0.0: [started(n=1)], 12.0: [ended(n=1)], 14.0: [started(n=2)], 28.0: [ended(n=2)]}
    timeline = drive(seq, events, 60.0)
    assert keys_at(timeline) == [
        (0.0, "opening"),
        (10.0, "hold.0"),
        (20.0, "hold.1"),  # the hold goes on where it was
        (33.0, "closing"),
    ]
    assert seq.counts["dips_merged"] == 1 and seq.counts["sequences"] == 1


def test_the_other_leg_is_the_same_cramp() -> None:
    seq = PromptSequencer(FAST)
    events = {
        0.0: [started("left")],
        3.0: [started("right")],
        6.0: [ended("left")],
        16.0: [ended("right")],
    }
    timeline = drive(seq, events, 40.0)
    assert keys_at(timeline) == [(0.0, "opening"), (10.0, "hold.0"), (21.0, "closing")]


def test_new_cramp_within_cooldown_gets_the_short_reminder_only() -> None:
    seq = PromptSequencer(FAST)
    events = {
        0.0: [started(n=1)],
        5.0: [ended(n=1)],  # sequence over at 10 s
        100.0: [started(n=2)],  # 90 s later: within the 600 s cooldown
        130.0: [ended(n=2)],
        800.0: [started(n=3)],  # 665 s after the second ended: a full sequence again
    }
    timeline = drive(seq, events, 805.0)
    assert keys_at(timeline) == [
        (0.0, "opening"),
        (10.0, "closing"),
        (100.0, "repeat_short"),  # no hold lines, no closing
        (800.0, "opening"),
    ]
    assert seq.counts["short_reminders"] == 1 and seq.counts["sequences"] == 2


def easing(value: bool, t: float, leg: str = "left") -> EventRecord:
    return record({"event": "cramp_update", "event_id": f"s:{leg}:1:update:{round(t * 1000)}",
                   "leg": leg, "t": t, "easing": value})


def test_hold_lines_pause_while_the_detector_says_easing() -> None:
    texts = PromptTexts(hold=("a", "b"), escalation=())
    seq = PromptSequencer(dataclasses.replace(FAST, texts=texts))
    # the level falls at 12 s (a lull), comes back at 31 s, falls for good at 52 s; the
    # cramp_ended follows at 70 s, end_hold_s after the fall
    events = {0.0: [started()], 12.0: [easing(True, 12.0)], 31.0: [easing(False, 31.0)],
              52.0: [easing(True, 52.0)], 70.0: [ended()]}
    assert keys_at(drive(seq, events, 90.0)) == [
        (0.0, "opening"),
        (10.0, "hold.0"),
        (31.0, "hold.1"),  # the line due at 20 and 30 s, said once as the lull ends
        (40.0, "hold.0"),
        (50.0, "hold.1"),
        (75.0, "closing"),
    ]
    assert seq.counts["easing_pauses"] == 2
    # without the hints the hold lines run on until the end (the line at 60 s included)
    plain = PromptSequencer(dataclasses.replace(FAST, texts=texts))
    assert (60.0, "hold.1") in keys_at(drive(plain, {0.0: [started()], 70.0: [ended()]}, 90.0))


def test_duplicates_and_updates_are_ignored() -> None:
    seq = PromptSequencer(FAST)
    update = record({"event": "cramp_update", "event_id": "u1", "leg": "left", "t": 3.0})
    timeline = drive(seq, {0.0: [started(), started()], 3.0: [update, update]}, 5.0)
    assert keys_at(timeline) == [(0.0, "opening")]
    assert seq.counts["duplicates"] == 2 and seq.counts["events"] == 2


@pytest.mark.parametrize(
    "event", [None, "cramp_started", 7, {}, {"event": 5}, {"event": None}, ["event"]]
)
def test_malformed_events_are_refused_at_the_edge(event: object) -> None:
    """Malformed event JSON never reaches the sequencer: the edge parser refuses it."""
    with pytest.raises(ValueError):
        EventRecord.from_json(event)


@given(
    st.lists(
        st.one_of(
            st.none(),
            st.integers(),
            st.text(max_size=5),
            st.dictionaries(
                st.sampled_from(["event", "event_id", "leg", "t"]),
                st.one_of(
                    st.sampled_from(["cramp_started", "cramp_ended", "cramp_update", "x"]),
                    st.integers(),
                    st.none(),
                    st.text(max_size=3),
                ),
            ),
        ),
        max_size=30,
    )
)
def test_fuzzed_event_streams_never_raise(events: list[object]) -> None:
    seq = PromptSequencer(FAST)
    t = 0.0
    for obj in events:
        t += 3.0
        if isinstance(obj, dict) and isinstance(obj.get("event"), str) \
                and obj["event"] in KINDS and obj.get("event_id", "") is not None:
            try:
                event = record(obj)
            except ValueError:
                continue  # refused at the edge, as a bad line in a file or a bad payload is
        else:
            continue
        for u in seq.on_event(event, t, WALL0 + timedelta(seconds=t)):
            assert u.key in {"opening", "repeat_short", "closing"} or u.key.startswith("hold.")
        seq.poll(t, WALL0 + timedelta(seconds=t))


def test_silence_for_the_rest_of_the_cramp() -> None:
    seq = PromptSequencer(FAST)
    timeline = drive(seq, {0.0: [started(n=1)]}, 12.0)
    seq.silence("cramp", 12.0, WALL0 + timedelta(seconds=12))
    later = drive(seq, {}, 200.0)  # the clock restarts at 0 here, but the sequence is muted
    assert keys_at(timeline) == [(0.0, "opening"), (10.0, "hold.0")]
    assert later == []
    # the next cramp (past the cooldown) is spoken again
    seq2 = PromptSequencer(dataclasses.replace(FAST, cooldown_s=0.0))
    events = {0.0: [started(n=1)], 5.0: [ended(n=1)], 30.0: [started(n=2)]}
    first = drive(seq2, {k: v for k, v in events.items() if k < 10}, 4.0)
    seq2.silence("cramp", 4.0, WALL0)
    rest = drive(seq2, {k: v for k, v in events.items() if k >= 5}, 31.0)
    assert keys_at(first) == [(0.0, "opening")]
    assert keys_at(rest) == [(30.0, "opening")]  # no closing for the silenced cramp


def test_silence_for_the_night_lasts_until_the_morning() -> None:
    settings = dataclasses.replace(FAST, cooldown_s=0.0, silence_night_until="07:00")
    seq = PromptSequencer(settings)
    wall = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    seq.silence("night", 0.0, wall)
    assert seq.silenced_until() == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    assert drive(seq, {0.0: [started(n=1)], 30.0: [ended(n=1)]}, 60.0, wall0=wall) == []
    assert seq.counts["suppressed_silence"] == 1
    morning = datetime(2026, 11, 27, 7, 5, tzinfo=UTC)
    assert keys_at(drive(seq, {0.0: [started(n=2)]}, 1.0, wall0=morning)) == [(0.0, "opening")]


def test_quiet_hours_mute_prompts_and_wrap_midnight() -> None:
    settings = dataclasses.replace(FAST, quiet_hours_start="23:00", quiet_hours_end="06:30")
    for hour, spoken in ((22, True), (23, False), (2, False), (6, False), (7, True)):
        seq = PromptSequencer(settings)
        wall = datetime(2026, 11, 27, hour, 15, tzinfo=UTC)
        timeline = drive(seq, {0.0: [started()], 30.0: [ended()]}, 40.0, wall0=wall)
        assert bool(timeline) is spoken, hour
        assert seq.counts["suppressed_quiet_hours"] == (0 if spoken else 1)
    # quiet hours that begin during a cramp stop it from talking on
    seq = PromptSequencer(settings)
    wall = datetime(2026, 11, 26, 22, 59, 50, tzinfo=UTC)
    assert keys_at(drive(seq, {0.0: [started()]}, 40.0, wall0=wall)) == [(0.0, "opening")]


def test_rate_limit_per_rolling_hour() -> None:
    settings = dataclasses.replace(FAST, cooldown_s=0.0, max_sequences_per_hour=2)
    seq = PromptSequencer(settings)
    events: dict[float, list[EventRecord]] = {}
    for n, start in enumerate((0.0, 600.0, 1200.0, 3700.0), 1):
        events[start] = [started(n=n)]
        events[start + 5] = [ended(n=n)]
    openings = [t for t, k, _ in drive(seq, events, 3800.0, step=5.0) if k == "opening"]
    assert openings == [0.0, 600.0, 3700.0]  # the third within the hour is not spoken
    assert seq.counts["suppressed_rate_limit"] == 1


def test_in_window_and_next_occurrence() -> None:
    assert in_window(dtime(23, 30), dtime(23, 0), dtime(6, 0))
    assert in_window(dtime(5, 59), dtime(23, 0), dtime(6, 0))
    assert not in_window(dtime(6, 0), dtime(23, 0), dtime(6, 0))
    assert in_window(dtime(13, 0), dtime(12, 0), dtime(14, 0))
    assert not in_window(dtime(13, 0), None, None)
    assert not in_window(dtime(13, 0), dtime(8, 0), dtime(8, 0))
    evening = datetime(2026, 11, 26, 23, 0, tzinfo=UTC)
    assert next_occurrence(evening, dtime(9, 0)) == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert next_occurrence(evening, dtime(23, 30)) == datetime(2026, 11, 26, 23, 30, tzinfo=UTC)


def test_rehearsal_says_every_line_once_in_order() -> None:
    settings = PromptSettings()
    keys = [u.key for u in rehearsal(settings)]
    assert keys[0] == "opening" and keys[-1] == "closing"
    escalations = [k for k in keys if k.startswith("escalation.")]
    assert escalations == [f"escalation.{i}" for i in range(len(settings.texts.escalation))]
    assert {k for k in keys if k.startswith("hold.")} == {
        f"hold.{i}" for i in range(len(settings.texts.hold))
    }
    gains = [u.gain_pct for u in rehearsal(settings)]
    assert gains == sorted(gains) and gains[0] == settings.volume_start_pct


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('quiet_hours_start = "23:00"\n', "must be set together"),
        ('reminder_time = "9pm"\n', "key 'reminder_time': expected a local time"),
        ('quiet_hours_start = "24:00"\nquiet_hours_end = "06:00"\n', "quiet_hours_start"),
        ("volume_start_pct = 90\nvolume_full_pct = 50\n", "must not exceed"),
        ('output = "command"\n', "needs a `command`"),
        ("hold_interval_s = 1\n", "below the minimum 3"),
        ('[prompt.texts]\nopening = " "\n', "must not be empty"),
    ],
)
def test_prompt_settings_are_checked(tmp_path: Any, toml: str, message: str) -> None:
    path = tmp_path / "c.toml"
    section = "" if toml.startswith("[") else "[prompt]\n"
    path.write_text(section + toml)
    with pytest.raises(ConfigError, match=message):
        load_settings(path)


def test_texts_override_from_toml(tmp_path: Any) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[prompt.texts]\nhold = ["Hold on."]\nescalation = []\n')
    texts = load_settings(path).prompt.texts
    assert texts.hold == ("Hold on.",) and texts.escalation == ()
    assert texts.opening == PromptTexts().opening


@given(
    steps=st.lists(
        st.tuples(
            st.floats(0.25, 900.0),
            st.sampled_from(["cramp_started", "cramp_ended", "silence", "poll"]),
            st.sampled_from(["left", "right"]),
        ),
        max_size=40,
    ),
    cooldown_s=st.sampled_from([0.0, 60.0, 900.0]),
    per_hour=st.integers(1, 4),
)
def test_sequencer_invariants(
    steps: list[tuple[float, str, str]], cooldown_s: float, per_hour: int
) -> None:
    settings = dataclasses.replace(
        FAST, cooldown_s=cooldown_s, max_sequences_per_hour=per_hour, dip_grace_s=5.0
    )
    seq = PromptSequencer(settings)
    t, n = 0.0, 0
    said: list[tuple[float, str, int]] = []
    for gap, action, leg in steps:
        for frac in (1 / 3, 1 / 2):  # some polls in between, as run() would
            tp = t + gap * frac
            said += [(u.due, u.key, u.sequence) for u in seq.poll(tp, WALL0 + timedelta(0, tp))]
        t += gap
        wall = WALL0 + timedelta(seconds=t)
        if action == "silence":
            seq.silence("cramp", t, wall)
            continue
        if action != "poll":
            n += 1
            event = record({"event": action, "event_id": f"e{n}", "leg": leg})
            said += [(u.due, u.key, u.sequence) for u in seq.on_event(event, t, wall)]
        said += [(u.due, u.key, u.sequence) for u in seq.poll(t, wall)]
    times = [d for d, _, _ in said]
    assert times == sorted(times)
    by_sequence: dict[int, list[str]] = {}
    for _, key, number in said:
        by_sequence.setdefault(number, []).append(key)
    for keys in by_sequence.values():
        # every sequence that speaks starts with its first line, said once; closing only last
        assert keys[0] in ("opening", "repeat_short")
        assert keys.count("opening") + keys.count("repeat_short") == 1
        assert "closing" not in keys[:-1]
        if keys[0] == "repeat_short":
            assert keys == ["repeat_short"]
    starts = [d for d, k, _ in said if k in ("opening", "repeat_short")]
    for i, start in enumerate(starts):  # the rolling-hour rate limit holds
        assert sum(1 for s in starts[i:] if s - start < 3600.0) <= per_hour
    assert seq.counts["sequences"] + seq.counts["short_reminders"] == len(starts)


def test_a_lost_cramp_ended_does_not_mute_later_cramps() -> None:
    settings = dataclasses.replace(FAST, max_sequence_s=120.0, cooldown_s=0.0)
    seq = PromptSequencer(settings)
    # the first cramp's cramp_ended never arrives
    events = {0.0: [started("left", 1)], 60.0: [started("right", 1)], 200.0: [started("left", 2)]}
    openings = [(t, k) for t, k, _ in drive(seq, events, 201.0) if k == "opening"]
    assert openings == [(0.0, "opening"), (200.0, "opening")]  # 60 s: same cramp, other leg
    assert seq.counts["lost_ends"] == 1 and seq.counts["sequences"] == 2
