"""Event JSON per docs/contracts.md, and tolerant JSONL reading."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bedside.stream.records import (
    EventRecord,
    dumps,
    event_record,
    read_events,
    wall_clock,
    write_events,
)
from detector.types import DetectorEvent, EventKind
from firmware_bridge.errors import InputError
from tests.detector.synth import Night, render
from tests.detector.test_pipeline import run

START = datetime(2026, 11, 27, 0, 0, 0)


def record_json(event: DetectorEvent, **kwargs: Any) -> dict[str, Any]:
    """The event JSON of ``event_record``: what the contract fixes, key order included."""
    return event_record(event, **kwargs).to_json()


def _started(n: int = 1, t_onset: float = 812.4, t_detect: float = 815.1) -> DetectorEvent:
    return DetectorEvent(
        kind=EventKind.CRAMP_STARTED,
        cramp_number=n,
        t_onset=t_onset,
        t_detect=t_detect,
        intensity=4.2,
        peak_intensity=4.2,
    )


def test_started_matches_the_contract_example() -> None:
    rec = record_json(_started(), session_id="s1", leg="left", session_start=START)
    assert rec == {
        "event": "cramp_started",
        "event_id": "s1:left:1:started",
        "leg": "left",
        "t_onset": 812.4,
        "t_detect": 815.1,
        "time": "2026-11-27T00:13:35.100+00:00",
        "intensity": 4.2,
    }
    assert list(rec) == ["event", "event_id", "leg", "t_onset", "t_detect", "time", "intensity"]


def test_ended_and_update() -> None:
    ended = DetectorEvent(
        kind=EventKind.CRAMP_ENDED,
        cramp_number=3,
        t_onset=812.4,
        t_detect=815.1,
        t_end=901.0,
        duration_s=88.6,
        intensity=3.14159,
        peak_intensity=7.9,
    )
    rec = record_json(ended, session_id="night-7", leg="right", session_start=START)
    assert rec["event_id"] == "night-7:right:3:ended"
    assert rec["t_end"] == 901.0 and rec["duration_s"] == 88.6
    assert rec["time"] == "2026-11-27T00:15:01.000+00:00"  # wall clock of t_end
    assert rec["intensity"] == 3.14 and rec["peak_intensity"] == 7.9
    update = DetectorEvent(
        kind=EventKind.CRAMP_UPDATE,
        cramp_number=3,
        t_onset=812.4,
        t_detect=815.1,
        intensity=5.0,
        peak_intensity=6.0,
        t=830.25,
    )
    up = record_json(update, session_id="night-7", leg="right", session_start=START)
    assert up["event"] == "cramp_update" and up["t"] == 830.25 and up["t_detect"] == 815.1
    assert up["event_id"] == "night-7:right:3:update:830250"
    assert up["time"] == "2026-11-27T00:13:50.250+00:00"  # wall clock of the update, not detection
    assert "easing" not in up  # a periodic update carries no hint
    hint = record_json(dataclasses.replace(update, easing=True), session_id="night-7",
                        leg="right", session_start=START)
    assert hint["easing"] is True
    # a producer that sets no t: the update's time is its t_detect
    bare = dataclasses.replace(update, t=None, t_detect=830.25)
    assert record_json(bare, session_id="night-7", leg="right", session_start=START)[
        "event_id"] == "night-7:right:3:update:830250"


def test_updates_of_one_cramp_are_distinct_messages() -> None:
    # the production pipeline over a 200-s cramp: several updates, each its own event_id and t
    events, _ = run(*render(Night(seconds=400.0, bursts=[(100.0, 300.0, 4.0)], seed=1)))
    updates = [record_json(e, session_id="s", leg="left", session_start=START)
               for e in events if e.kind is EventKind.CRAMP_UPDATE]
    assert len(updates) >= 5
    assert len({u["event_id"] for u in updates}) == len(updates)
    ts = [u["t"] for u in updates]
    assert ts == sorted(ts) and ts[0] > updates[0]["t_detect"]


def test_aware_start_keeps_its_offset() -> None:
    cet = timezone(timedelta(hours=1))
    assert wall_clock(datetime(2026, 11, 27, 1, 0, tzinfo=cet), 1.5) == (
        "2026-11-27T01:00:01.500+01:00"
    )


def test_event_ids_are_unique_and_stable() -> None:
    events = [_started(n, 10.0 * n, 10.0 * n + 3) for n in range(1, 6)]
    ids = [
        record_json(e, session_id="s", leg="left", session_start=START)["event_id"] for e in events
    ]
    assert len(set(ids)) == 5
    again = [
        record_json(e, session_id="s", leg="left", session_start=START)["event_id"] for e in events
    ]
    assert ids == again


@pytest.mark.parametrize(("session_id", "leg"), [("a:b", "left"), ("s", ""), ("s", "le:ft")])
def test_ids_refuse_colons(session_id: str, leg: str) -> None:
    with pytest.raises(ValueError, match="free of ':'"):
        record_json(_started(), session_id=session_id, leg=leg, session_start=START)


def test_non_finite_intensity_is_null_not_nan() -> None:
    e = DetectorEvent(
        kind=EventKind.CRAMP_STARTED,
        cramp_number=1,
        t_onset=1.0,
        t_detect=2.0,
        intensity=float("nan"),
        peak_intensity=float("inf"),
    )
    line = dumps(event_record(e, session_id="s", leg="left", session_start=START))
    assert json.loads(line)["intensity"] is None


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    recs = [
        event_record(_started(n), session_id="s", leg="left", session_start=START) for n in (1, 2)
    ]
    buf = io.StringIO()
    assert write_events(recs, buf) == 2
    path = tmp_path / "e.jsonl"
    path.write_text(buf.getvalue())
    log = read_events(path)
    assert log.events == recs and log.bad_lines == 0


def test_read_is_tolerant(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = dumps(event_record(_started(), session_id="s", leg="left", session_start=START))
    path = tmp_path / "e.jsonl"
    path.write_bytes(
        (
            good + "\n\n"
            "{not json\n"
            "[1, 2]\n"
            '{"event": "cramp_started"}\n'
            '{"event": "future_kind", "x": 1}\n' + good + "\n"
        ).encode()
        + b"\xff\xfe\n"
    )
    with caplog.at_level(logging.WARNING):
        log = read_events(path)
    assert len(log.events) == 2 and log.other_kinds == 1  # a newer producer's kind: skipped
    assert all(isinstance(e, EventRecord) for e in log.events)
    assert log.bad_lines == 4
    assert log.problems == [
        "line 3: not JSON: Expecting property name enclosed in double quotes at line 1 column 2",
        "line 4: not a JSON object",
        "line 5: cramp_started: no 'event_id' string",
        "line 8: not JSON: not UTF-8",
    ]
    assert "4 bad lines skipped" in caplog.text


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_events(tmp_path / "none.jsonl")


def test_recorded_is_dated_to_the_real_cramp() -> None:
    recorded = DetectorEvent(
        kind=EventKind.CRAMP_RECORDED,
        cramp_number=4,
        t_onset=812.4,
        t_detect=840.0,
        t_end=828.0,
        duration_s=15.6,
        intensity=2.5,
        peak_intensity=4.25,
    )
    rec = record_json(recorded, session_id="night-7", leg="left", session_start=START)
    assert rec["event"] == "cramp_recorded"
    assert rec["event_id"] == "night-7:left:4:recorded"
    assert (rec["t_onset"], rec["t_detect"], rec["t_end"], rec["duration_s"]) == (
        812.4, 840.0, 828.0, 15.6)
    assert rec["time"] == wall_clock(START, 828.0)  # the cramp's end, not its recognition
    assert (rec["intensity"], rec["peak_intensity"]) == (2.5, 4.25)
    without_end = DetectorEvent(kind=EventKind.CRAMP_RECORDED, cramp_number=4, t_onset=1.0,
                                t_detect=2.0, intensity=2.0, peak_intensity=2.0)
    with pytest.raises(ValueError, match="no t_end"):
        event_record(without_end, session_id="n", leg="left", session_start=START)
