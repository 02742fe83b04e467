"""The durable outbox: order, persistence across reopen, dedupe, bounds, WAL."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bedside.live.outbox import Outbox

TOPIC = "crampwatch/t/cramp/event"


def event(n: int) -> dict[str, object]:
    return {"event": "cramp_started", "event_id": f"s:left:{n}:started", "t_onset": float(n)}


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_rows_come_back_in_order_and_leave_only_on_ack(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite3") as box:
        ids = [box.put(event(n), topic=TOPIC) for n in range(5)]
        assert ids == sorted(ids)
        assert [r.event_id for r in box.pending()] == [f"s:left:{n}:started" for n in range(5)]
        assert box.ack(ids[2]) is True
        assert box.ack(ids[2]) is False  # a second PUBACK for the same row: nothing to remove
        assert [r.row_id for r in box.pending()] == [ids[0], ids[1], ids[3], ids[4]]
        assert [r.row_id for r in box.pending(2, after=ids[0])] == [ids[1], ids[3]]
        row = box.pending(1)[0]
        assert json.loads(row.payload) == event(0)
        assert (row.topic, row.qos, row.retain) == (TOPIC, 1, False)
        stats = box.statistics()
        assert (stats.put, stats.acked, stats.pending) == (5, 1, 4)


def test_survives_reopen_and_never_reuses_ids(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    with Outbox(path) as box:
        first = [box.put(event(n), topic=TOPIC) for n in range(3)]
        box.ack(first[-1])  # the newest row is gone: its id must not come back
    with Outbox(path) as box:
        assert [r.row_id for r in box.pending()] == first[:2]
        new = box.put(event(3), topic=TOPIC, retain=True)
        assert new > first[-1]
        assert box.pending()[-1].retain is True


def test_duplicate_event_id_is_stored_once(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite3") as box:
        a = box.put(event(1), topic=TOPIC)
        b = box.put(event(1), topic=TOPIC)
        assert a == b
        assert len(box) == 1
        assert box.statistics().duplicates == 1


def test_count_bound_drops_the_oldest_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Outbox(tmp_path / "o.sqlite3", max_events=3) as box:
        with caplog.at_level(logging.WARNING, logger="bedside.live.outbox"):
            for n in range(5):
                box.put(event(n), topic=TOPIC)
        assert [r.event_id for r in box.pending()] == [f"s:left:{n}:started" for n in (2, 3, 4)]
        assert box.statistics().dropped_overflow == 2
        assert "dropped the 1 oldest" in caplog.text


def test_age_bound_drops_old_rows_also_at_open(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "o.sqlite3"
    with Outbox(path, max_age_s=3600.0, clock=clock) as box:
        box.put(event(0), topic=TOPIC)
        clock.t += 1800
        box.put(event(1), topic=TOPIC)
    clock.t += 2000  # event 0 is now 3800 s old, event 1 2000 s
    with Outbox(path, max_age_s=3600.0, clock=clock) as box:
        assert [r.event_id for r in box.pending()] == ["s:left:1:started"]
        assert box.statistics().dropped_age == 1


def test_wal_and_full_sync(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    with Outbox(path) as box:
        box.put(event(0), topic=TOPIC)
        mode = box._db.execute("PRAGMA journal_mode").fetchone()[0]
        sync = box._db.execute("PRAGMA synchronous").fetchone()[0]
    assert (mode, sync) == ("wal", 2)  # 2 = FULL
    # Another connection (another process after a crash) sees the committed row.
    other = sqlite3.connect(path)
    try:
        assert other.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 1
    finally:
        other.close()


@pytest.mark.parametrize(
    "bad",
    [{"event": "cramp_started"}, {"event_id": ""}, {"event_id": 7}],
    ids=["missing", "empty", "not-str"],
)
def test_event_without_a_string_event_id_is_a_bug(tmp_path: Path, bad: dict[str, object]) -> None:
    with Outbox(tmp_path / "o.sqlite3") as box, pytest.raises(ValueError, match="event_id"):
        box.put(bad, topic=TOPIC)


def test_non_finite_numbers_are_refused_not_stored(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite3") as box:
        with pytest.raises(ValueError):
            box.put({"event_id": "x", "intensity": float("nan")}, topic=TOPIC)
        assert len(box) == 0


@settings(max_examples=40, deadline=None)
@given(ops=st.lists(st.tuples(st.booleans(), st.integers(0, 30)), max_size=60))
def test_matches_a_fifo_model(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[bool, int]]
) -> None:
    """Random puts and acks: pending() is always the model FIFO minus acked rows, in order."""
    path = tmp_path_factory.mktemp("fifo") / "o.sqlite3"
    model: list[tuple[int, str]] = []
    with Outbox(path, max_events=1000) as box:
        for is_put, n in ops:
            if is_put:
                row_id = box.put(event(n), topic=TOPIC)
                if all(eid != f"s:left:{n}:started" for _, eid in model):
                    model.append((row_id, f"s:left:{n}:started"))
            elif model:
                row_id, _ = model.pop(n % len(model))
                assert box.ack(row_id)
            assert [(r.row_id, r.event_id) for r in box.pending()] == model
