"""``benchmarks.pooled``: each set's row, the pooled row, the per-family and per-profile tables and
the targets agree with the scorer."""

from __future__ import annotations

from typing import Any

from bedside.offline.scoring import score_night
from benchmarks.corpus import (
    CORPUS,
    CORPUS_FAMILIES,
    FAMILY_MIX,
    HOLDOUT,
    HOLDOUT_B,
    HOLDOUT_C,
    NIGHT_SETS,
    QUICK,
)
from benchmarks.pooled import TUNING_SET, pooled_table, report, targets_table


def night(
    cramps: list[tuple[float, float]],
    alarms: list[float],
    profile: str = "typical",
    family: str = "classic",
    records: tuple[tuple[float, float], ...] = (),
) -> Any:
    truth = {"format": "crampwatch-truth/1", "duration_s": 28800.0, "profile": profile,
             "cramps": [{"lead_s": a, "onset_s": a, "end_s": b, "level": 3.0, "family": family}
                        for a, b in cramps],
             "short_cramps": [], "confounders": [], "bad_signal": []}  # fmt: skip
    events = [{"event": "cramp_started", "t_onset": t - 2.0, "t_detect": t} for t in alarms]
    events += [{"event": "cramp_recorded", "t_onset": a, "t_end": b} for a, b in records]
    return score_night(truth, events)


def test_pooled_row_adds_up_the_sets() -> None:
    a = [night([(100.0, 200.0)], [108.0]), night([(500.0, 600.0)], [])]  # 1 of 2, latency 8
    b = [night([(100.0, 200.0)], [104.0, 5000.0])]  # 1 of 1, latency 4, one false alarm
    table = pooled_table([("set a", a), ("set b", b)]).splitlines()
    rows = {line[:24].strip(): line[24:].split() for line in table[2:4]}
    assert rows["set a"][:4] == ["16.00", "2", "1", "50.0%"]  # hours, cramps, hits, sens
    assert rows["set b"][:7] == ["8.00", "1", "1", "100.0%", "0", "100.0%", "1"]  # … 1 FA
    pooled = next(line for line in table if line.startswith("pooled")).split()
    # pooled (3 nights): 24 h, 3 cramps, 2 hits, 66.7 %, 0 recorded, 66.7 %, 1 FA, 0.33/8h
    assert pooled[:11] == ["pooled", "(3", "nights)", "24.00", "3", "2", "66.7%", "0", "66.7%",
                           "1", "0.33"]  # fmt: skip
    assert pooled[11] == "6.0"  # latency median
    assert any(line.startswith("false alarms by cause") for line in table)


def test_report_has_family_profile_and_target_tables() -> None:
    tuning = [night([(100.0, 200.0)], [103.0], profile="dense", family="weak")]
    held = [night([(100.0, 120.0)], [], family="short_moving", records=((101.0, 121.0),)),
            night([], [9000.0], profile="quiet")]  # fmt: skip
    text = report([("corpus 8 h", tuning), ("held-out 16 h", held)])
    assert "By cramp family, held-out sets only:" in text
    family_rows = [line.split() for line in text.splitlines() if line.startswith("short_moving")]
    # pooled over every set, then held out only: 1 cramp, 0 timely, 1 recorded, counted 100 %
    assert [row[1:6] for row in family_rows] == [["1", "0", "0.0%", "1", "100.0%"]] * 2
    assert "dense (≤ 0.3)" in text and "quiet (≤ 0.05)" in text
    targets = targets_table(tuning + held).splitlines()
    verdicts = {line[:36].strip(): line[36:].split() for line in targets[1:]}
    assert verdicts["timely sensitivity ≥ 0.97"][0] == "0.500"
    assert verdicts["timely sensitivity ≥ 0.97"][1:] == ["missed", "by", "0.47"]
    assert verdicts["counted sensitivity ≥ 0.99"] == ["1.000", "met"]
    assert verdicts["latency median s ≤ 5"] == ["3.000", "met"]
    assert verdicts["false alarms/8h, quiet ≤ 0.05"] == ["1.000", "missed", "by", "0.95"]


def test_night_sets_are_held_apart() -> None:
    assert list(NIGHT_SETS) == ["corpus", "corpus families", "held-out A", "held-out B",
                                "family mix", "held-out C"]
    assert NIGHT_SETS["corpus"] is CORPUS
    # only the sets tuned on carry the name benchmarks.pooled treats as the tuning set
    tuned = {name for name in NIGHT_SETS if name.startswith(TUNING_SET)}
    assert tuned == {"corpus", "corpus families"}
    every = (CORPUS, CORPUS_FAMILIES, HOLDOUT, HOLDOUT_B, FAMILY_MIX, HOLDOUT_C, QUICK)
    seeds = [{s.seed for s in specs} for specs in every]
    for i, a in enumerate(seeds):
        for b in seeds[i + 1 :]:
            assert not a & b  # each set its own subjects
    assert {s.profile for s in FAMILY_MIX} == {"families"}
    assert {s.profile for s in HOLDOUT_B} == {"dense", "typical", "quiet"}
    assert sum(s.hours for s in HOLDOUT_B) >= 60 and sum(s.hours for s in FAMILY_MIX) >= 48
    assert "families" in {s.profile for s in QUICK}
