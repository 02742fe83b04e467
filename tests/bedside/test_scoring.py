"""The scorer on hand-made nights: window boundaries, fragments, causes, aggregation."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bedside.offline.scoring import (
    AFTERMATH_S,
    CAUSE_MARGIN_S,
    aggregate,
    by_family,
    by_profile,
    describe,
    format_family_table,
    format_profile_table,
    format_table,
    score_night,
    to_dict,
)

H8 = 8 * 3600.0


def truth(
    *,
    duration_s: float = H8,
    cramps: Sequence[tuple[float, float]] = (),
    short: Sequence[tuple[float, float]] = (),
    confounders: Sequence[tuple[str, float, float]] = (),
    bad: Sequence[tuple[str, float, float]] = (),
) -> dict[str, Any]:
    return {
        "format": "crampwatch-truth/1",
        "seed": 1,
        "profile": "typical",
        "duration_s": duration_s,
        "subject": {"leg": "left"},
        "cramps": [{"onset_s": a, "end_s": b, "level": 3.0} for a, b in cramps],
        "short_cramps": [{"onset_s": a, "end_s": b, "level": 2.0} for a, b in short],
        "confounders": [{"kind": k, "start_s": a, "end_s": b} for k, a, b in confounders],
        "bad_signal": [{"kind": k, "start_s": a, "end_s": b} for k, a, b in bad],
    }


def started(t_detect: float, n: int = 1, t_onset: float | None = None) -> dict[str, Any]:
    return {
        "event": "cramp_started",
        "event_id": f"s:left:{n}:started",
        "leg": "left",
        "t_onset": t_detect if t_onset is None else t_onset,
        "t_detect": t_detect,
        "intensity": 4.0,
    }


def ended(t_end: float, n: int = 1, t_onset: float = 0.0) -> dict[str, Any]:
    return {
        "event": "cramp_ended",
        "event_id": f"s:left:{n}:ended",
        "leg": "left",
        "t_onset": t_onset,
        "t_end": t_end,
        "duration_s": t_end - t_onset,
        "intensity": 3.0,
        "peak_intensity": 7.0,
    }


ONE_CRAMP = truth(cramps=[(1000.0, 1100.0)])


@pytest.mark.parametrize(
    ("t_detect", "is_hit"),
    [
        (999.5, True),  # onset − 0.5 exactly
        (999.49, False),
        (1000.0, True),
        (1102.0, True),  # end + 2 exactly
        (1102.01, False),
    ],
)
def test_window_boundaries(t_detect: float, is_hit: bool) -> None:
    score = score_night(ONE_CRAMP, [started(t_detect)])
    m = score.metrics
    assert (m.hits, m.false_alarms) == ((1, 0) if is_hit else (0, 1))
    if is_hit:
        assert score.hits[0].latency_s == pytest.approx(t_detect - 1000.0)
        assert m.sensitivity == 1.0
    else:
        assert m.sensitivity == 0.0
        assert score.false_alarms[0].cause == "cramp"  # just outside: attributed to the cramp
        assert score.missed[0].onset_s == 1000.0


def test_fragments_count_once() -> None:
    events = [started(1005.0, 1), started(1030.0, 2), started(1090.0, 3), ended(1020.0, 1, 1003)]
    m = score_night(ONE_CRAMP, events).metrics
    assert (m.hits, m.fragments, m.false_alarms) == (1, 2, 0)
    assert m.latency_median_s == 5.0
    assert m.end_error_median_abs_s == 80.0  # the hit's own end (1020), not a fragment's


def test_false_alarm_on_plm_series_is_labelled() -> None:
    # as the simulator writes it: the series and each leg movement in it
    lms = [("plm", 5000.0 + 30.0 * k, 5003.0 + 30.0 * k) for k in range(10)]
    t = truth(confounders=[("plm_series", 5000.0, 5273.0), *lms, ("turn", 9000.0, 9010.0)])
    on_lm = score_night(t, [started(5122.0, t_onset=5120.0)])  # LM 5120–5123
    between = score_night(t, [started(5140.0, t_onset=5139.0)])
    for score in (on_lm, between):
        assert score.metrics.false_alarms == 1
        assert score.false_alarms[0].cause == "plm_series"
        assert score.metrics.false_alarms_by_cause == {"plm_series": 1}
    assert [s.kind for s in on_lm.false_alarms[0].spans] == ["plm_series", "plm"]
    lone = truth(confounders=[("plm", 7000.0, 7004.0)])
    assert score_night(lone, [started(7003.0)]).false_alarms[0].cause == "plm"


def test_false_alarm_just_after_a_confounder_is_still_attributed() -> None:
    t = truth(confounders=[("stretch", 5000.0, 5004.0)])
    near = score_night(t, [started(5004.0 + CAUSE_MARGIN_S - 0.1, t_onset=5003.0)])
    far = score_night(t, [started(5004.0 + CAUSE_MARGIN_S + 20.0)])
    assert near.false_alarms[0].cause == "stretch"
    assert far.false_alarms[0].cause == "none"


def test_false_alarm_during_bad_signal_counts() -> None:
    t = truth(cramps=[(20000.0, 20100.0)], bad=[("lead_off", 3000.0, 3600.0)])
    score = score_night(t, [started(3300.0), started(20010.0, 2)])
    m = score.metrics
    assert (m.hits, m.false_alarms) == (1, 1)
    assert score.false_alarms[0].cause == "lead_off"
    assert m.false_alarms_per_8h == pytest.approx(1.0)


def test_nearest_span_is_the_cause() -> None:
    t = truth(confounders=[("turn", 100.0, 110.0), ("hum_change", 0.0, 28000.0)])
    fa = score_night(t, [started(120.0, t_onset=108.0)]).false_alarms[0]
    assert fa.cause == "hum_change"  # the alarm moment lies inside the hum change
    assert {s.kind for s in fa.spans} == {"turn", "hum_change"}


def test_short_cramps_are_neutral() -> None:
    t = truth(short=[(500.0, 505.0)])
    m = score_night(t, [started(499.5), started(507.0, 2), started(510.0, 3)]).metrics
    assert (m.neutral, m.false_alarms, m.hits, m.cramps) == (2, 1, 0, 0)
    assert m.sensitivity is None


def test_empty_night() -> None:
    m = score_night(truth(), []).metrics
    assert (m.hits, m.false_alarms, m.fragments, m.cramps) == (0, 0, 0, 0)
    assert m.sensitivity is None
    assert m.false_alarms_per_8h == 0.0
    assert m.latency_median_s is None and m.end_error_median_abs_s is None


def test_missed_cramp_and_no_events() -> None:
    score = score_night(truth(cramps=[(100.0, 200.0), (300.0, 400.0)]), [])
    assert score.metrics.sensitivity == 0.0
    assert len(score.missed) == 2


def test_end_error_by_event_id_then_by_onset() -> None:
    t = truth(cramps=[(100.0, 200.0), (1000.0, 1300.0)])
    by_id = [started(103.0, 1, 101.0), ended(205.0, 1, 101.0)]
    no_id = [
        {"event": "cramp_started", "t_onset": 1001.0, "t_detect": 1004.0},
        {"event": "cramp_ended", "t_onset": 1001.0, "t_end": 1290.0},
    ]
    score = score_night(t, by_id + no_id)
    assert [h.end_error_s for h in score.hits] == [5.0, -10.0]
    assert score.metrics.end_error_median_abs_s == 7.5
    assert score.metrics.hits_without_end == 0 and score.metrics.ended_without_hit == 0


def test_hit_without_end_and_stray_end() -> None:
    score = score_night(ONE_CRAMP, [started(1004.0, 1), ended(50.0, 9, 40.0)])
    assert score.hits[0].t_end is None
    assert score.metrics.hits_without_end == 1
    assert score.metrics.ended_without_hit == 1


def test_events_in_any_order_and_updates_ignored() -> None:
    events = [
        started(1030.0, 2),
        {"event": "cramp_update", "t": 1010.0, "t_detect": 1002.0, "t_onset": 1000.0},
        started(1002.0, 1),
    ]
    score = score_night(ONE_CRAMP, events)
    assert score.hits[0].t_detect == 1002.0
    assert (score.metrics.fragments, score.metrics.ignored_events) == (1, 1)


def test_overlapping_windows_give_each_cramp_its_hit() -> None:
    t = truth(cramps=[(100.0, 150.0), (151.0, 200.0)])  # windows overlap on [150.5, 152]
    m = score_night(t, [started(150.8, 1), started(151.5, 2)]).metrics
    assert (m.hits, m.fragments) == (2, 0)


def test_latency_median_and_p90() -> None:
    cramps = [(1000.0 * k, 1000.0 * k + 60.0) for k in range(1, 11)]
    events = [started(1000.0 * k + k, k) for k in range(1, 11)]  # latencies 1..10 s
    m = score_night(truth(cramps=cramps), events).metrics
    assert m.latency_median_s == 5.5
    assert m.latency_p90_s == pytest.approx(9.1)  # linear interpolation between 9 and 10


def test_aggregate_pools_counts_and_hours() -> None:
    a = score_night(
        truth(cramps=[(100.0, 200.0), (500.0, 600.0)]),
        [started(102.0, 1), started(3000.0, 2), started(4000.0, 3)],
        name="a",
    )
    b = score_night(
        truth(duration_s=H8 / 2, cramps=[(100.0, 200.0)], confounders=[("turn", 50.0, 60.0)]),
        [started(110.0, 1), started(58.0, 2), started(7000.0, 3)],
        name="b",
    )
    corpus = aggregate([a, b])
    m = corpus.metrics
    assert (m.nights, m.cramps, m.hits, m.false_alarms) == (2, 3, 2, 4)
    assert m.sensitivity == pytest.approx(2 / 3)
    assert m.duration_s == 1.5 * H8
    # 4 alarms in 12 h, not the mean of the nights' rates (2 and 4 per 8 h)
    assert m.false_alarms_per_8h == pytest.approx(4 / 1.5)
    assert m.latency_median_s == pytest.approx(6.0)  # pooled latencies 2 and 10
    assert m.false_alarms_by_cause == {"none": 3, "turn": 1}
    empty = aggregate([])
    assert empty.metrics.nights == 0 and empty.metrics.false_alarms_per_8h is None


def test_table_and_json() -> None:
    a = score_night(ONE_CRAMP, [started(1003.0), ended(1101.0, 1, 1000.0)], name="dense-1")
    b = score_night(truth(), [started(77.0)], name="quiet-2")
    corpus = aggregate([a, b])
    table = format_table(corpus)
    assert "dense-1" in table and "quiet-2" in table and "all (2)" in table
    assert "100.0%" in table and "false alarms by cause: none 1" in table
    doc = json.loads(json.dumps(to_dict(corpus)))
    assert doc["aggregate"]["hits"] == 1
    assert doc["nights"][0]["hits"][0]["end_error_s"] == 1.0
    assert doc["nights"][1]["false_alarms"][0]["cause"] == "none"
    assert doc["nights"][1]["metrics"]["sensitivity"] is None


@pytest.mark.parametrize(
    ("bad_truth", "message"),
    [
        ({**ONE_CRAMP, "format": "x"}, "'format'"),
        ({**ONE_CRAMP, "duration_s": 0}, "'duration_s' must be > 0"),
        ({**ONE_CRAMP, "duration_s": True}, "'duration_s' must be a finite number"),
        ({**ONE_CRAMP, "cramps": [{"onset_s": 5.0}]}, "cramps[0]: 'end_s'"),
        ({**ONE_CRAMP, "cramps": [{"onset_s": 5.0, "end_s": 1.0}]}, "before onset_s"),
        ({**ONE_CRAMP, "confounders": [{"start_s": 1.0, "end_s": 2.0}]}, "'kind'"),
        ({**ONE_CRAMP, "bad_signal": {}}, "'bad_signal' must be a list"),
    ],
)
def test_bad_truth_names_the_field(bad_truth: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        score_night(bad_truth, [])


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"event": "cramp_started"}, "event #2: 't_detect'"),
        ({"event": "cramp_ended", "t_end": "x"}, "event #2: 't_end'"),
        ({"event": 3}, "event #2: 'event' must be a string"),
        ({"event": "cramp_started", "t_detect": float("nan")}, "finite"),
        ({"event": "cramp_recorded", "t_end": 1100.0}, "event #2: 't_onset'"),
        ({"event": "cramp_recorded", "t_onset": 1100.0, "t_end": 1000.0}, "before t_onset"),
    ],
)
def test_bad_event_names_the_event(event: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        score_night(ONE_CRAMP, [started(1001.0), event])


@given(
    detects=st.lists(st.floats(0.0, 3000.0, allow_nan=False), max_size=30),
    cramps=st.lists(st.tuples(st.floats(0, 2900), st.floats(10, 600)), max_size=6),
)
def test_every_start_is_counted_once(
    detects: list[float], cramps: list[tuple[float, float]]
) -> None:
    spans = sorted((a, a + d) for a, d in cramps)
    events = [started(t, i) for i, t in enumerate(detects)]
    night = score_night(truth(duration_s=3600.0, cramps=spans), events)
    m = night.metrics
    assert m.hits + m.fragments + m.neutral + m.false_alarms == len(detects)
    assert m.recorded == 0 and m.counted == m.hits
    assert m.hits <= m.cramps
    assert aggregate([night]).metrics == m  # one night pooled is that night
    doubled = aggregate([night, night]).metrics
    assert (doubled.hits, doubled.false_alarms) == (2 * m.hits, 2 * m.false_alarms)
    assert doubled.false_alarms_per_8h == m.false_alarms_per_8h  # a rate: unchanged


# --- issue 15: lead_s, cramp_recorded, families and profiles ----------------------------------


def recorded(t_onset: float, t_end: float, n: int = 1) -> dict[str, Any]:
    return {
        "event": "cramp_recorded",
        "event_id": f"s:left:{n}:recorded",
        "leg": "left",
        "t_onset": t_onset,
        "t_end": t_end,
        "duration_s": t_end - t_onset,
        "intensity": 3.0,
    }


def family_truth(*cramps: tuple[float, float, float, str], profile: str = "typical") -> Any:
    """Cramps as ``(lead_s, onset_s, end_s, family)``."""
    t = truth()
    t["profile"] = profile
    t["cramps"] = [
        {"lead_s": lead, "onset_s": a, "end_s": b, "family": f, "level": 3.0}
        for lead, a, b, f in cramps
    ]
    return t


BUILD_UP = family_truth((950.0, 1000.0, 1100.0, "build_up"))


@pytest.mark.parametrize(
    ("t_detect", "is_hit"),
    [(950.0, True), (949.99, False), (1000.0, True), (1102.0, True), (1102.01, False)],
)
def test_timely_window_runs_from_lead_to_end_plus_2(t_detect: float, is_hit: bool) -> None:
    score = score_night(BUILD_UP, [started(t_detect)])
    assert (score.metrics.hits, score.metrics.false_alarms) == ((1, 0) if is_hit else (0, 1))
    if is_hit:  # latency from the full onset: negative during the build-up
        assert score.hits[0].latency_s == pytest.approx(t_detect - 1000.0)
        assert score.hits[0].family == "build_up"


def test_a_prompt_after_the_cramp_is_a_false_alarm_of_that_family() -> None:
    late = score_night(BUILD_UP, [started(1130.0)])
    (fa,) = late.false_alarms
    assert fa.after_family == "build_up" and late.metrics.after_cramp_false_alarms == 1
    far = score_night(BUILD_UP, [started(1102.0 + AFTERMATH_S + 1.0)])
    assert far.false_alarms[0].after_family is None
    assert by_family([late])["build_up"].false_alarms == 1


def test_a_recorded_cramp_is_counted_not_timely() -> None:
    score = score_night(BUILD_UP, [recorded(1001.0, 1104.0)])
    m = score.metrics
    assert (m.hits, m.recorded, m.counted, m.missed, m.false_alarms) == (0, 1, 1, 0, 0)
    assert (m.sensitivity, m.counted_sensitivity) == (0.0, 1.0)
    assert m.latency_median_s is None  # recorded cramps have no latency
    assert m.end_error_median_abs_s == pytest.approx(4.0)
    assert score.recorded[0].t_onset == 1001.0


def test_records_on_counted_cramps_short_cramps_and_nothing() -> None:
    t = family_truth((950.0, 1000.0, 1100.0, "weak"), (3000.0, 3000.0, 3020.0, "short_moving"))
    t["short_cramps"] = [{"onset_s": 5000.0, "end_s": 5005.0, "level": 2.0}]
    events = [
        started(1010.0, 1),
        recorded(1000.0, 1098.0, 2),  # the same cramp: a fragment
        recorded(3001.0, 3019.0, 3),  # only recognised after it ended: counted
        recorded(5001.0, 5004.0, 4),  # a short cramp: neutral
        recorded(7000.0, 7030.0, 5),  # nothing there: a false record
        started(3040.0, 6),  # the late prompt: a false alarm after a short_moving cramp
    ]
    score = score_night(t, events)
    m = score.metrics
    assert (m.hits, m.recorded, m.fragments, m.neutral, m.false_records) == (1, 1, 1, 1, 1)
    assert (m.false_alarms, m.counted_sensitivity, m.sensitivity) == (1, 1.0, 0.5)
    assert score.false_alarms[0].after_family == "short_moving"
    families = by_family([score])
    assert families["weak"].hits == 1 and families["short_moving"].recorded == 1
    assert families["short_moving"].false_alarms == 1 and families["weak"].false_alarms == 0
    doc = json.loads(json.dumps(to_dict(aggregate([score]))))
    assert doc["nights"][0]["false_records"] == [{"t_onset": 7000.0, "t_end": 7030.0}]
    assert doc["by_family"]["short_moving"]["recorded"] == 1


def test_family_and_profile_tables() -> None:
    dense = family_truth((100.0, 100.0, 150.0, "strong"), profile="dense")
    typical = family_truth((100.0, 100.0, 150.0, "weak"), (900.0, 950.0, 990.0, "build_up"))
    scores = [
        score_night(dense, [started(104.0), started(20000.0)]),
        score_night(typical, [started(108.0), recorded(940.0, 995.0)]),
    ]
    profiles = by_profile(scores)
    assert list(profiles) == ["dense", "typical"]
    assert profiles["dense"].false_alarms_per_8h == 1.0
    assert profiles["typical"].counted_sensitivity == 1.0
    rows = {line.split()[0]: line.split()[1:] for line in format_family_table(scores).splitlines()}
    assert rows["strong"][:4] == ["1", "1", "100.0%", "0"]  # cramps, timely, sens, recorded
    assert rows["build_up"][:6] == ["1", "0", "0.0%", "1", "100.0%", "0"]
    assert rows["weak"][6] == "8.0"  # latency median
    assert rows["all"][1:4] == ["3", "2", "66.7%"]  # "all families", then the counts
    table = format_profile_table(scores)
    assert "dense (≤ 0.3)" in table and "typical (≤ 0.05)" in table


def test_describe_says_it_in_words() -> None:
    words = describe(score_night(BUILD_UP, [started(1003.0), ended(1104.0, 1, 1000.0)]))
    assert "1 cramp(s)" in words and "3.0 s after it reached full strength" in words
    assert "Its end was dated 4.0 s late" in words and "No alarm came" in words
    words = describe(score_night(BUILD_UP, [recorded(1000.0, 1100.0), started(5000.0)]))
    assert "logged, not spoken" in words and "1 alarm(s) came when there was no cramp" in words
