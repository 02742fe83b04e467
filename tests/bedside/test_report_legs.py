"""Two wearables: the end-of-night report is drawn per leg, each with its own leg's cramps."""

from __future__ import annotations

from pathlib import Path

from bedside.offline.report import write_night_report
from bedside.stream.records import dumps
from tests.conftest import record

EVENING = "2026-11-26T23:30:00+00:00"


def test_one_report_per_leg_with_that_legs_cramps(tmp_path: Path) -> None:
    events = [
        record({"event": "cramp_started", "event_id": f"s:{leg}:{n}:started", "leg": leg,
                "t_onset": 100.0 * n, "t_detect": 100.0 * n + 4, "time": EVENING})
        for leg, n in (("left", 1), ("right", 1), ("right", 2))
    ]
    (tmp_path / "events.jsonl").write_text("".join(dumps(e) + "\n" for e in events))
    summary = {"night": "2026-11-26", "cramps": 3}
    left = write_night_report(tmp_path, summary, None, leg="left")
    right = write_night_report(tmp_path, summary, None, leg="right")
    assert left is not None and right is not None
    assert (left.name, right.name) == ("2026-11-26-left.png", "2026-11-26-right.png")
    assert left.with_suffix(".html").read_text().count("<tr><td>") == 1
    assert right.with_suffix(".html").read_text().count("<tr><td>") == 2
    both = write_night_report(tmp_path, summary, None)  # one wearable: the whole night
    assert both is not None and both.name == "2026-11-26.png"
    assert both.with_suffix(".html").read_text().count("<tr><td>") == 3
