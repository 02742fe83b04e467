"""The pipeline on small synthetic nights: detection, confounders, gaps, invariants."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector import pipeline
from detector.floor import FLOOR_MIN_S
from detector.pipeline import Pipeline
from detector.rules import BLIND_CONFIRM_S
from detector.settings import DetectorSettings
from detector.types import DetectorEvent, EventKind, FloatArray, Quality
from tests.detector.synth import Night, blocks, render

FAST = DetectorSettings()


def run(emg: FloatArray, acc: FloatArray, *, emg_rate_hz: float = 1000.0,
        accel_rate_hz: float = 50.0, chunk_s: float = 7.3, settings: DetectorSettings = FAST,
        accel_lost: bool = False) -> tuple[list[DetectorEvent], Pipeline]:
    """Feed the night in ``chunk_s`` blocks; ``accel_lost``: every accelerometer block is
    declared lost with ``gap(0, m)`` instead (an EMG-only recording, as replay feeds it)."""
    p = Pipeline(settings, emg_rate_hz=emg_rate_hz, accel_rate_hz=accel_rate_hz,
                 n_emg_channels=emg.shape[0])
    events: list[DetectorEvent] = []
    ce, ca = round(chunk_s * emg_rate_hz), round(chunk_s * accel_rate_hz)
    for i in range(0, max(emg.shape[1] // ce + 1, acc.shape[1] // ca + 1)):
        block = acc[:, i * ca:(i + 1) * ca]
        if accel_lost:
            events += p.process(emg[:, i * ce:(i + 1) * ce], block[:, :0])
            events += p.gap(0, block.shape[1])
        else:
            events += p.process(emg[:, i * ce:(i + 1) * ce], block)
    events += p.finish()
    return events, p


def starts(events: list[DetectorEvent]) -> list[DetectorEvent]:
    return [e for e in events if e.kind is EventKind.CRAMP_STARTED]


CRAMP = Night(seconds=280.0, bursts=[(150.0, 210.0, 3.0)], seed=3)


@pytest.fixture(scope="module")
def cramp_run() -> tuple[list[DetectorEvent], Pipeline]:
    return run(*render(CRAMP))


def test_cramp_detected_with_latency_and_end(cramp_run: tuple[list[DetectorEvent], Pipeline]
                                             ) -> None:
    events, p = cramp_run
    s = starts(events)
    assert len(s) == 1
    assert 150.0 <= s[0].t_detect <= 150.0 + 8.0  # confirm_s + median delay
    assert abs(s[0].t_onset - 150.0) <= 2.0
    ended = [e for e in events if e.kind is EventKind.CRAMP_ENDED]
    assert len(ended) == 1 and ended[0].t_end is not None
    assert abs(ended[0].t_end - 210.0) <= 3.0
    assert 2.0 < ended[0].intensity < 4.5
    st_ = p.statistics()
    assert st_.cramps == 1 and st_.events == len(events)


def test_status_reports_floor_and_posture(cramp_run: tuple[list[DetectorEvent], Pipeline]
                                          ) -> None:
    _, p = cramp_run
    status = p.status()
    assert status.quality is Quality.GOOD
    assert status.posture == "lying"
    assert 1.0 < status.rest_floor_uv < 3.0  # the synthetic floor is 2 µV
    assert not status.cramp_active


def test_causal_truncation_reproduces_alarm(cramp_run: tuple[list[DetectorEvent], Pipeline]
                                            ) -> None:
    events, _ = cramp_run
    first = starts(events)[0]
    emg, acc = render(CRAMP)
    cut = first.t_detect + 0.01
    trunc, _ = run(emg[:, : round(cut * 1000)], acc[:, : round(cut * 50)], chunk_s=3.1)
    assert starts(trunc)[0] == first


@settings(max_examples=8, deadline=None)
@given(cuts=st.lists(st.integers(0, 240_000), max_size=25), seed=st.integers(0, 3))
def test_events_identical_for_any_partition(cuts: list[int], seed: int) -> None:
    night = replace(CRAMP, seed=seed)
    emg, acc = render(night)
    whole, _ = run(emg, acc, chunk_s=1e6)
    p = Pipeline(FAST, emg_rate_hz=1000.0, accel_rate_hz=50.0, n_emg_channels=1)
    events: list[DetectorEvent] = []
    acc_cuts = [c * 50 // 1000 + (c % 7) for c in cuts]  # streams cut at different places
    eb, ab = blocks(emg, cuts), blocks(acc, acc_cuts)
    for i in range(max(len(eb), len(ab))):
        e = eb[i] if i < len(eb) else emg[:, :0]
        a = ab[i] if i < len(ab) else acc[:, :0]
        events += p.process(e, a)
    events += p.finish()
    assert events == whole


def test_one_sample_blocks_equal_batch() -> None:
    # the burst comes 15 s after the rest floor exists (FLOOR_MIN_S of good signal)
    s = replace(FAST, floor_block_s=2.0, confirm_s=2.0)
    night = Night(seconds=FLOOR_MIN_S + 30.0,
                  bursts=[(FLOOR_MIN_S + 15.0, FLOOR_MIN_S + 26.0, 4.0)], seed=5)
    emg, acc = render(night, emg_rate_hz=500.0, accel_rate_hz=25.0)
    whole, pw = run(emg, acc, emg_rate_hz=500.0, accel_rate_hz=25.0, chunk_s=1e6, settings=s)
    assert starts(whole)
    p = Pipeline(s, emg_rate_hz=500.0, accel_rate_hz=25.0, n_emg_channels=1)
    events: list[DetectorEvent] = []
    for i in range(emg.shape[1]):
        events += p.process(emg[:, i:i + 1], acc[:, i // 20:i // 20 + 1] if i % 20 == 0
                            else acc[:, :0])
    events += p.finish()
    assert events == whole
    assert p.status() == pw.status()


@pytest.mark.parametrize("rate", [500.0, 2000.0])
def test_rate_generic(rate: float, cramp_run: tuple[list[DetectorEvent], Pipeline]) -> None:
    ref = starts(cramp_run[0])
    events, _ = run(*render(CRAMP, emg_rate_hz=rate), emg_rate_hz=rate)
    got = starts(events)
    assert len(got) == len(ref) == 1
    assert abs(got[0].t_detect - ref[0].t_detect) <= 1.5


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_mains_detected_from_signal(mains: float) -> None:
    night = Night(seconds=60.0, mains_hz=mains + 0.3, hum_uv=5.0, seed=7)
    _, p = run(*render(night))
    assert p.statistics().mains_hz == mains


def test_strong_hum_is_removed_from_the_envelope_and_flagged() -> None:
    night = Night(seconds=200.0, hum_uv=30.0, mains_hz=59.6, seed=8)  # hum 15x the EMG floor
    events, p = run(*render(night))
    assert events == []
    assert 1.6 < p.status().envelope_uv < 2.6  # the 2 µV EMG floor, hum left out
    assert p.status().quality is Quality.HUM
    assert p.statistics().mains_hz == 60.0


def test_dominant_hum_and_lead_off_are_flagged() -> None:
    emg, acc = render(Night(seconds=120.0, seed=9))
    t = np.arange(emg.shape[1]) / 1000.0
    bad = emg.copy()
    bad[0, 60_000:80_000] = 0.0  # flat line
    bad[0, 90_000:] = np.clip(bad[0, 90_000:] * 2e4, -9999.0, 9999.0)  # at the rails
    bad[0, 40_000:55_000] += 200.0 * np.sin(2 * np.pi * 50.0 * t[40_000:55_000])  # hum
    p = Pipeline(FAST, emg_rate_hz=1000.0, accel_rate_hz=50.0, n_emg_channels=1)
    qualities = []
    for i in range(0, 120):
        p.process(bad[:, i * 1000:(i + 1) * 1000], acc[:, i * 50:(i + 1) * 50])
        qualities.append(p.status().quality)
    assert qualities[50] is Quality.HUM
    assert qualities[70] is Quality.LEAD_OFF
    assert qualities[110] is Quality.LEAD_OFF
    assert qualities[35] is Quality.GOOD
    assert p.statistics().seconds_bad_quality >= 15 + 20 + 30


def test_an_appliance_raising_the_hum_does_not_hide_a_cramp() -> None:
    """An appliance switching on raises the mains hum ~5× (2.4 → 11 µV over a 2-µV floor): the
    band estimate leaves the mains bins out, so the EMG is still good and the cramp alarms.
    The earlier rule (hum above 8 µV and 2× the band = bad) hid the cramp."""
    emg, acc = render(Night(seconds=420.0, hum_uv=2.0, bursts=[(250.0, 330.0, 3.0)], seed=15))
    t = np.arange(emg.shape[1]) / 1000.0
    on = t >= 150.0
    for h in (1, 2, 3, 4):
        emg[0, on] += 9.0 / h * np.sqrt(2) * np.sin(2 * np.pi * h * 50.0 * t[on] + 2 * h)
    events, p = run(emg, acc)
    (start,) = starts(events)
    assert FAST.confirm_s <= start.t_detect - 250.0 <= FAST.confirm_s + 2.5
    assert p.statistics().seconds_bad_quality == 0.0
    strict = replace(FAST, hum_ratio=2.0, hum_rise=6.0)
    assert starts(run(emg, acc, settings=strict)[0]) == []


@pytest.mark.parametrize("hum_uv", [1.5, 3.0])
def test_a_flat_line_does_not_make_the_usual_hum_look_like_a_rise(hum_uv: float) -> None:
    # a minute of flat line (lead-off) has no hum at all; the night's usual hum must not drop
    # to 0 after it, or the ordinary hum that follows counts as a lifting electrode (HUM)
    emg, acc = render(Night(seconds=420.0, hum_uv=hum_uv, bursts=[(300.0, 360.0, 4.0)], seed=1))
    emg[:, 60_000:120_000] = 0.0
    events, p = run(emg, acc)
    hold = FAST.quality_hold_s
    assert 60.0 <= p.statistics().seconds_bad_quality <= 60.0 + hold + 1.0
    (start,) = starts(events)
    assert FAST.confirm_s <= start.t_detect - 300.0 <= FAST.confirm_s + 2.5


def test_cramp_during_lead_off_is_suppressed() -> None:
    night = Night(seconds=240.0, bursts=[(150.0, 210.0, 3.0)], seed=3)
    emg, acc = render(night)
    emg[0, 140_000:220_000] = 0.0  # the electrode is off
    events, _ = run(emg, acc)
    assert events == []


@pytest.mark.parametrize(("seed", "rate"), [(11, 1000.0), (12, 2000.0), (13, 500.0)])
def test_a_poor_contacts_white_noise_is_not_a_cramp_though_as_loud(seed: int, rate: float
                                                                    ) -> None:
    """A lifting electrode's thermal noise (white) raises the level like a cramp; band-limited
    EMG of the same level is one. Without the spectral-shape test the noise alarms too."""
    noise = Night(seconds=240.0, contact_noise=[(120.0, 200.0, 4.0)], seed=seed)
    emg_rise = Night(seconds=240.0, bursts=[(120.0, 200.0, 4.0)], seed=seed)
    assert run(*render(noise, rate), emg_rate_hz=rate)[0] == []
    assert starts(run(*render(emg_rise, rate), emg_rate_hz=rate)[0])
    no_test = replace(FAST, flat_spectrum_ratio=10.0)
    assert starts(run(*render(noise, rate), emg_rate_hz=rate, settings=no_test)[0])


def test_contact_noise_before_a_movement_does_not_pass_as_a_discharge_that_woke_the_sleeper(
) -> None:
    # still "discharge" (white noise) for 8 s, then a movement with a burst of real EMG in it:
    # the waking exemption is for EMG only, so the movement vetoes the candidate
    night = Night(seconds=240.0, contact_noise=[(120.0, 200.0, 4.0)],
                  bursts=[(128.0, 132.0, 20.0)], moves=[(128.0, 132.0, 0.2)], seed=14)
    assert run(*render(night))[0] == []
    woke = Night(seconds=240.0, bursts=[(120.0, 200.0, 4.0), (128.0, 132.0, 20.0)],
                 moves=[(128.0, 132.0, 0.2)], seed=14)
    assert starts(run(*render(woke))[0])  # the same with a real discharge is a cramp


def test_gaps_make_no_events_and_are_counted() -> None:
    emg, acc = render(Night(seconds=240.0, seed=4))
    p = Pipeline(FAST, emg_rate_hz=1000.0, accel_rate_hz=50.0, n_emg_channels=1)
    events: list[DetectorEvent] = []
    for i in range(0, 240, 10):
        events += p.process(emg[:, i * 1000:(i + 10) * 1000], acc[:, i * 50:(i + 10) * 50])
        events += p.gap(1234 * (i % 3), 61 * (i % 3))
    events += p.gap(200_000, 10_000)  # a long outage
    events += p.finish()
    assert events == []
    stats = p.statistics()
    lost = [1234 * (i % 3) for i in range(0, 240, 10)]
    assert stats.gaps == sum(1 for x in lost if x) + 1
    assert stats.gap_samples == sum(lost) + 200_000
    assert p.status().quality is Quality.NO_SIGNAL


def test_gap_inside_cramp_does_not_split_it() -> None:
    emg, acc = render(CRAMP)
    p = Pipeline(FAST, emg_rate_hz=1000.0, accel_rate_hz=50.0, n_emg_channels=1)
    events = p.process(emg[:, :180_000], acc[:, :9000])
    events += p.gap(3000, 150)  # 3 s lost mid-cramp
    events += p.process(emg[:, 183_000:], acc[:, 9150:])
    events += p.finish()
    assert [e.kind for e in events if e.kind is not EventKind.CRAMP_UPDATE] == [
        EventKind.CRAMP_STARTED, EventKind.CRAMP_ENDED]


def test_nan_samples_are_counted_not_fatal() -> None:
    emg, acc = render(Night(seconds=60.0, seed=2))
    emg[0, 1000:1010] = np.nan
    _, p = run(emg, acc)
    assert p.statistics().bad_samples == 10


def test_bad_shapes_raise_value_error() -> None:
    p = Pipeline(FAST, emg_rate_hz=1000.0, accel_rate_hz=50.0, n_emg_channels=2)
    with pytest.raises(ValueError, match=r"\(2, n\)"):
        p.process(np.zeros((1, 10)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"\(3, m\)"):
        p.process(np.zeros((2, 10)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="outside the supported range 400-4000 Hz"):
        Pipeline(FAST, emg_rate_hz=200.0, accel_rate_hz=50.0, n_emg_channels=1)


# -- confounders that must not alarm ---------------------------------------------------------


def test_plm_series_not_alarmed() -> None:
    # 0.5-10 s bursts every 5-90 s [PLMt]; strong on the calf here (worst case: co-activation)
    bursts = [(60.0 + 25.0 * i, 60.0 + 25.0 * i + d, 6.0)
              for i, d in enumerate([3.0, 2.0, 4.5, 3.5, 9.0, 2.5, 8.0, 3.0])]
    events, _ = run(*render(Night(seconds=280.0, bursts=bursts, seed=11)))
    assert starts(events) == []


def test_turn_not_alarmed() -> None:
    # EMG + movement + new posture for 3-45 s [IRL21]
    night = Night(seconds=200.0, bursts=[(120.0, 150.0, 5.0)], moves=[(119.0, 149.0, 0.1)],
                  tilts=[(149.0, 200.0, 30.0)], seed=12)
    events, _ = run(*render(night))
    assert starts(events) == []


def test_gait_not_alarmed() -> None:
    # upright, bursts at ~1 Hz stride [SAN], heel strikes
    bursts = [(100.0 + 1.03 * i + 0.4, 100.0 + 1.03 * i + 0.7, 30.0) for i in range(60)]
    night = Night(seconds=200.0, bursts=bursts, upright=[(97.0, 165.0)],
                  moves=[(100.0, 162.0, 0.4)], seed=13)
    events, _ = run(*render(night))
    assert starts(events) == []


def test_voluntary_stretch_not_alarmed() -> None:
    # a strong few-second burst with a small tilt
    night = Night(seconds=200.0, bursts=[(120.0, 126.0, 20.0)], tilts=[(120.0, 126.0, 5.0)],
                  seed=14)
    events, _ = run(*render(night))
    assert starts(events) == []


def test_surge_and_brief_dip_stay_one_cramp() -> None:
    # stretching a cramp raises the EMG [RT95]; a short dip in the discharge is the same cramp
    bursts = [(100.0, 130.0, 3.0), (130.0, 138.0, 9.0), (138.0, 150.0, 3.0), (150.0, 153.0, 1.0),
              (153.0, 190.0, 3.0)]
    night = Night(seconds=260.0, bursts=bursts, moves=[(131.0, 134.0, 0.2)], seed=15)
    events, _ = run(*render(night))
    kinds = [e.kind for e in events if e.kind is not EventKind.CRAMP_UPDATE]
    assert kinds == [EventKind.CRAMP_STARTED, EventKind.CRAMP_ENDED]
    ended = events[-1]
    assert ended.t_end is not None and abs(ended.t_end - 190.0) <= 3.0
    assert ended.peak_intensity > 6.0  # the surge


def test_table_covers_every_trigger_a_state_can_see() -> None:
    from detector.state_machine import TABLE, State, Trigger

    can_see = {
        State.IDLE: {"BAD", "UPRIGHT", "MOVE", "HIGH", "LOW"},
        State.CANDIDATE: {"BAD", "UPRIGHT", "MOVE", "HIGH", "LOW", "DROP", "CONFIRM"},
        State.CRAMP: {"BAD", "LOST", "UPRIGHT", "STOOD", "HIGH", "LOW"},
        State.CRAMP_DIP: {"BAD", "LOST", "UPRIGHT", "STOOD", "HIGH", "LOW", "END"},
    }
    for state, triggers in can_see.items():
        for name in triggers:
            assert (state, Trigger[name]) in TABLE
    assert {s for s, _ in TABLE} == set(State)


def test_weak_cramp_ends_at_its_residual_not_when_soreness_fades() -> None:
    # a +140 % cramp dropping to a 1.85x residual (soreness [CS]): the residual keeps most of the
    # level, yet the cramp ends where the discharge stops, not minutes later
    bursts = [(100.0, 180.0, 2.4), (180.0, 400.0, 1.85)]
    night = Night(seconds=420.0, bursts=bursts, seed=16)
    events, _ = run(*render(night))
    assert len(starts(events)) == 1
    ended = [e for e in events if e.kind is EventKind.CRAMP_ENDED]
    assert len(ended) == 1 and ended[0].t_end is not None
    assert abs(ended[0].t_end - 180.0) <= 5.0


def test_walking_it_off_ends_the_cramp_within_upright_end_s() -> None:
    # the sleeper stands up at 160 s and walks (gait bursts [SAN]) until 300 s
    s = DetectorSettings()
    bursts = [(100.0, 160.0, 3.0)] + [(160.0 + k * 1.03, 160.3 + k * 1.03, 40.0)
                                       for k in range(135)]
    night = Night(seconds=360.0, bursts=bursts, upright=[(160.0, 300.0)], seed=17)
    events, _ = run(*render(night))
    assert len(starts(events)) == 1
    ended = [e for e in events if e.kind is EventKind.CRAMP_ENDED]
    assert len(ended) == 1 and ended[0].t_end is not None
    assert 160.0 <= ended[0].t_end <= 160.0 + s.upright_end_s + 1.0


@pytest.mark.parametrize("lull_s", [10.0, 30.0])
def test_lull_stays_one_cramp_and_the_end_is_dated_back(lull_s: float) -> None:
    # the discharge waxes and wanes: units rotate, each active 23.6 ± 16.2 s [Min09], so a lull
    # near the residual level up to about one unit's spell is not the end; the real end is
    # dated back to the fall
    resume, end = 160.0 + lull_s, 220.0 + lull_s
    bursts = [(100.0, 160.0, 4.0), (160.0, resume, 2.2), (resume, end, 4.0), (end, end + 170, 1.8)]
    night = Night(seconds=end + 190.0, bursts=bursts, seed=18)
    events, _ = run(*render(night))
    kinds = [e.kind for e in events if e.kind is not EventKind.CRAMP_UPDATE]
    assert kinds == [EventKind.CRAMP_STARTED, EventKind.CRAMP_ENDED]
    assert events[-1].t_end is not None and abs(events[-1].t_end - end) <= 5.0
    if lull_s > 15.0:  # … which a 15-s hold would have ended, and restarted as a second cramp
        short_hold = run(*render(night), settings=replace(FAST, end_hold_s=15.0))[0]
        assert len(starts(short_hold)) == 2


# -- context rules ----------------------------------------------------------------------------


def _latency(night: Night, settings: DetectorSettings = FAST) -> float:
    s = starts(run(*render(night), settings=settings)[0])
    assert len(s) == 1
    return s[0].t_detect - 150.0


def test_leg_movement_bursts_lengthen_confirmation_but_weak_flickers_do_not() -> None:
    cramp = (150.0, 210.0, 4.0)
    plain = _latency(Night(seconds=240.0, bursts=[cramp], seed=21))
    # a strong 4-s burst 40 s before: an LM of a possible PLM series [PLMt] -> plm_confirm_s
    lm = _latency(Night(seconds=240.0, bursts=[(110.0, 114.0, 6.0), cramp], seed=21))
    # a 4-s run just over onset_ratio (fasciculation on a raised rest [JAT21]): no context
    weak = Night(seconds=240.0, bursts=[(110.0, 114.0, 1.8), cramp], seed=21)
    flicker = _latency(weak)
    assert plain <= FAST.confirm_s + 2.5
    assert lm >= FAST.plm_confirm_s
    assert flicker == plain
    # … and it is a run over onset_ratio: counted when any run counts
    any_run = replace(FAST, plm_burst_peak_ratio=FAST.onset_ratio)
    assert _latency(weak, any_run) >= FAST.plm_confirm_s


def test_emg_only_input_still_alarms_after_the_blind_confirmation() -> None:
    # an EMG-only recording or a failed IMU: movement and posture unknown, not "no signal"
    events, p = run(*render(CRAMP), accel_lost=True)
    s = starts(events)
    assert len(s) == 1
    assert BLIND_CONFIRM_S <= s[0].t_detect - 150.0 <= BLIND_CONFIRM_S + 3.0
    assert p.status().posture == "unknown"
    ended = [e for e in events if e.kind is EventKind.CRAMP_ENDED]
    assert len(ended) == 1 and abs((ended[0].t_end or 0.0) - 210.0) <= 3.0
    # counted: every second of usable EMG (after the rest floor's warm-up) was blind
    blind = p.statistics().seconds_without_accel
    assert CRAMP.seconds - FLOOR_MIN_S - 10.0 <= blind <= CRAMP.seconds - FLOOR_MIN_S
    # … and not when the accelerometer works
    assert run(*render(CRAMP))[1].statistics().seconds_without_accel == 0.0


@pytest.mark.parametrize("seed", [5, 6, 7, 8])
def test_level_hovering_at_the_onset_threshold_is_not_a_cramp(seed: int) -> None:
    # 50 s just over onset_ratio, still and lying: pre-cramp fasciculation on a raised rest
    # [JAT21] or a wandering baseline, not the +100 % or more of a cramp [CS]
    hover = Night(seconds=240.0, bursts=[(150.0, 200.0, 1.75)], seed=seed)
    assert starts(run(*render(hover))[0]) == []
    # … which a run over onset_ratio alone would have confirmed
    lenient = replace(FAST, confirm_ratio=FAST.onset_ratio)
    assert len(starts(run(*render(hover), settings=lenient)[0])) == 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_recurrence_on_the_residual_of_a_cramp_is_found(seed: int) -> None:
    # a cramp, then its ~2x residual [CS] for minutes, and 3 min later a +150 % recurrence (the
    # muscle stays cramp-prone [TF17]); powers add: sqrt(2.5² + 2² - 1) = 3.04x rest
    bursts = [(100.0, 160.0, 4.0), (160.0, 600.0, 2.0), (350.0, 420.0, 3.04)]
    events, _ = run(*render(Night(seconds=600.0, bursts=bursts, seed=seed)))
    s = starts(events)
    assert len(s) == 2  # the residual alone never re-alarms; the recurrence does
    assert 348.0 <= s[1].t_onset <= 352.0 and s[1].t_detect - 350.0 <= FAST.confirm_s + 3.0
    ended = [e for e in events if e.kind is EventKind.CRAMP_ENDED]
    assert [round(e.t_end or 0.0) for e in ended] == pytest.approx([160, 420], abs=3)


def _with_motion_artifact(night: Night, start_s: float, end_s: float, seed: int
                          ) -> tuple[FloatArray, FloatArray]:
    """``night`` rendered, plus electrode-motion steps of a few hundred µV every 0.5 s over
    ``[start_s, end_s)``: frames the quality gate calls bad (LEAD_OFF)."""
    emg, acc = render(night)
    rng = np.random.default_rng(seed)
    for t in np.arange(start_s, end_s, 0.5):
        emg[0, int(t * 1000):] += rng.normal(0.0, 400.0)
    return emg, acc


@pytest.mark.parametrize("seed", [1, 2])
def test_cramp_outlives_the_artifact_of_the_sleeper_waking(
        seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # still discharge from 150 s, then 4 s in the sleeper wakes and moves [CS]: 3 s of motion
    # artifact (bad signal). The candidate survives it and alarms as the signal comes back …
    night = Night(seconds=260.0, bursts=[(150.0, 230.0, 4.0)], moves=[(154.0, 157.0, 0.3)],
                  seed=seed)
    emg, acc = _with_motion_artifact(night, 154.0, 157.0, seed)
    events, p = run(emg, acc)
    (start,) = starts(events)
    assert p.statistics().seconds_bad_quality > 0.0
    assert start.t_detect - 150.0 <= 157.0 + FAST.quality_hold_s + 2.0 - 150.0
    assert abs(start.t_onset - 150.0) <= 1.0
    # … where dropping it at the first bad frame alarmed only after a fresh confirmation
    with monkeypatch.context() as m:
        m.setattr(pipeline, "CANDIDATE_BAD_S", 0.0)
        dropped = starts(run(emg, acc)[0])
    assert len(dropped) == 1 and dropped[0].t_detect - 150.0 >= 20.0
    # … as it still is when the leg did not move: bad signal alone (a lead coming off) is
    # not the sleeper waking
    unmoved = Night(seconds=260.0, bursts=[(150.0, 230.0, 4.0)], seed=seed)
    (fresh,) = starts(run(*_with_motion_artifact(unmoved, 154.0, 157.0, seed))[0])
    assert fresh.t_detect - 150.0 >= 20.0


@pytest.mark.parametrize("seed", [1, 2])
def test_artifact_of_a_movement_that_starts_with_the_emg_is_no_cramp(seed: int) -> None:
    # turning over: the EMG burst, the movement and its artifact begin together
    night = Night(seconds=260.0, bursts=[(150.0, 165.0, 4.0)], moves=[(150.0, 153.0, 0.3)],
                  seed=seed)
    assert starts(run(*_with_motion_artifact(night, 150.5, 153.0, seed))[0]) == []


@pytest.mark.parametrize("seed", [1, 2])
def test_waking_counts_from_the_discharge_onset_not_the_smoothed_candidate(seed: int) -> None:
    # still discharge from 150 s; the sleeper wakes and moves 2.2 s in [CS]. The discharge was
    # there pre_still_s before the movement, though the smoothed level crossed the onset later
    night = Night(seconds=260.0, bursts=[(150.0, 230.0, 4.0)], moves=[(152.2, 155.2, 0.3)],
                  seed=seed)
    (start,) = starts(run(*render(night))[0])
    assert start.t_detect - 150.0 <= FAST.confirm_s + 2.0  # not vetoed and confirmed afresh
    # a movement that starts with the discharge still vetoes it (confirmed only after it)
    early = Night(seconds=260.0, bursts=[(150.0, 230.0, 4.0)], moves=[(150.5, 153.5, 0.3)],
                  seed=seed)
    (late,) = starts(run(*render(early))[0])
    assert late.t_detect - 150.0 >= FAST.after_motion_confirm_s + 3.0


def test_updates_say_when_the_level_falls_and_when_a_lull_ends() -> None:
    # a 30-s lull inside a cramp, then the real end: "easing" at each fall, "not easing" when
    # the lull ends, so a prompt can stop urging the hold before cramp_ended (end_hold_s later)
    bursts = [(100.0, 160.0, 4.0), (160.0, 190.0, 2.2), (190.0, 250.0, 4.0), (250.0, 420.0, 1.8)]
    events, _ = run(*render(Night(seconds=440.0, bursts=bursts, seed=19)))
    marks = [(e.easing, e.t) for e in events
             if e.kind is EventKind.CRAMP_UPDATE and e.easing is not None]
    assert [m for m, _ in marks] == [True, False, True]
    falls = [t for m, t in marks if m]
    assert all(t is not None for _, t in marks)
    assert abs((falls[0] or 0.0) - 160.0) <= 4.0 and abs((falls[1] or 0.0) - 250.0) <= 4.0
    (end,) = [e for e in events if e.kind is EventKind.CRAMP_ENDED]
    assert (falls[1] or 0.0) < FAST.end_hold_s + (end.t_end or 0.0)  # the hint comes first
    # update_interval_s = 0 means no cramp_update at all, hints included
    quiet = run(*render(Night(seconds=440.0, bursts=bursts, seed=19)),
                settings=replace(FAST, update_interval_s=0.0))[0]
    assert [e for e in quiet if e.kind is EventKind.CRAMP_UPDATE] == []
