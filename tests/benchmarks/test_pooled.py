"""``benchmarks.pooled``: each set's row and the pooled row agree with the scorer."""

from __future__ import annotations

from typing import Any

from benchmarks.pooled import pooled_table
from detector.scoring import score_night


def night(cramps: list[tuple[float, float]], alarms: list[float]) -> Any:
    truth = {"format": "crampwatch-truth/1", "duration_s": 28800.0,
             "cramps": [{"onset_s": a, "end_s": b, "level": 3.0} for a, b in cramps],
             "short_cramps": [], "confounders": [], "bad_signal": []}
    events = [{"event": "cramp_started", "t_onset": t - 2.0, "t_detect": t} for t in alarms]
    return score_night(truth, events)


def test_pooled_row_adds_up_the_sets() -> None:
    a = [night([(100.0, 200.0)], [108.0]), night([(500.0, 600.0)], [])]  # 1 of 2, latency 8
    b = [night([(100.0, 200.0)], [104.0, 5000.0])]  # 1 of 1, latency 4, one false alarm
    table = pooled_table([("set a", a), ("set b", b)]).splitlines()
    rows = {line[:24].strip(): line[24:].split() for line in table[2:4]}
    assert rows["set a"][:4] == ["16.00", "2", "1", "50.0%"]  # hours, cramps, hits, sens
    assert rows["set b"][:5] == ["8.00", "1", "1", "100.0%", "1"]  # … and one false alarm
    pooled = next(line for line in table if line.startswith("pooled")).split()
    # pooled (3 nights): 24 h, 3 cramps, 2 hits, 66.7 %, 1 false alarm, latency median 6.0
    assert pooled[:9] == ["pooled", "(3", "nights)", "24.00", "3", "2", "66.7%", "1", "0.33"]
    assert pooled[9] == "6.0"
    assert any(line.startswith("false alarms by cause") for line in table)
