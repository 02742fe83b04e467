"""The optional calibration: the electrode check, the floor it seeds, and when it is not trusted."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.calibration import Calibration, CalibrationError, band_rms_frames, calibrate
from detector.floor import FLOOR_MIN_S
from detector.pipeline import Pipeline
from detector.settings import DetectorSettings
from detector.types import DetectorEvent, EventKind, FloatArray
from tests.detector.synth import Night, blocks, render

S = DetectorSettings()
RATE = 1000.0


def rest_and_contraction(ratio: float, *, floor_uv: float = 2.0) -> tuple[FloatArray, FloatArray]:
    rest, _ = render(Night(seconds=20.0, floor_uv=floor_uv, seed=3))
    con, _ = render(Night(seconds=5.0, floor_uv=floor_uv, seed=4, bursts=[(0.0, 5.0, ratio)]))
    return rest, con


def measured(ratio: float = 20.0) -> Calibration:
    return calibrate(*rest_and_contraction(ratio), RATE, S)


def run(night: Night, calibration: Calibration | None,
        cuts: list[int] | None = None) -> tuple[list[DetectorEvent], Pipeline]:
    emg, acc = render(night)
    p = Pipeline(S, emg_rate_hz=RATE, accel_rate_hz=50.0, n_emg_channels=1,
                 calibration=calibration)
    events: list[DetectorEvent] = []
    if cuts is None:
        events += p.process(emg, acc)
    else:
        acc_cuts = [c * acc.shape[1] // emg.shape[1] for c in cuts]
        for e, a in zip(blocks(emg, cuts), blocks(acc, acc_cuts), strict=True):
            events += p.process(e, a)
    return events + p.finish(), p


def starts(events: list[DetectorEvent]) -> list[DetectorEvent]:
    return [e for e in events if e.kind is EventKind.CRAMP_STARTED]


def test_rest_and_contraction_are_measured_in_the_floors_units() -> None:
    cal = measured(20.0)
    # the pipeline's own rest floor on a long rest recording of the same subject
    _, p = run(Night(seconds=120.0, seed=9), None)
    assert cal.rest_uv[0] == pytest.approx(p.status().rest_floor_uv, rel=0.15)
    assert cal.contraction_ratio[0] == pytest.approx(20.0, rel=0.25)
    assert Calibration.from_dict(cal.as_dict()).rest_uv == pytest.approx(cal.rest_uv, rel=1e-4)


def test_a_contraction_that_barely_moves_the_emg_is_refused_as_a_misplaced_electrode() -> None:
    with pytest.raises(CalibrationError, match=r"only 2\.\d× over rest .*electrode"):
        measured(2.5)
    assert measured(6.0).contraction_ratio[0] > S.calibration_contraction_ratio


def test_only_a_calf_channel_may_pass_the_contraction_check() -> None:
    rest, con = rest_and_contraction(20.0)
    quiet_rest, quiet_con = rest_and_contraction(1.0)
    both_rest, both_con = np.vstack([quiet_rest, rest]), np.vstack([quiet_con, con])
    # the second channel contracts: fine when it is a calf channel, refused when it is the shin
    assert calibrate(both_rest, both_con, RATE, S, calf=[True, True]).contraction_ratio[1] > 10
    with pytest.raises(CalibrationError, match="calf"):
        calibrate(both_rest, both_con, RATE, S, calf=[True, False])


def test_short_or_unusable_rest_is_refused_with_the_reason() -> None:
    rest, con = rest_and_contraction(20.0)
    with pytest.raises(CalibrationError, match="at least 10 s"):
        calibrate(rest[:, :5000], con, RATE, S)
    flat = rest.copy()
    flat[:, 4000:] = 0.0  # the electrode came off
    with pytest.raises(CalibrationError, match="usable signal"):
        calibrate(flat, con, RATE, S)
    with pytest.raises(CalibrationError, match="below the minimum"):
        calibrate(rest, con, 300.0, S)


@pytest.mark.parametrize("data", [
    {"format": "other"},
    {"format": "crampwatch-calibration/1", "rest_uv": [], "contraction_uv": []},
    {"format": "crampwatch-calibration/1", "rest_uv": [1.0], "contraction_uv": [-2.0]},
    {"format": "crampwatch-calibration/1", "rest_uv": [1.0], "contraction_uv": [2.0, 3.0]},
    {"format": "crampwatch-calibration/1", "rest_uv": [True], "contraction_uv": [2.0]},
])
def test_bad_calibration_data_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(CalibrationError):
        Calibration.from_dict(data)


def test_band_rms_frames_drop_the_partial_frame() -> None:
    rest, _ = rest_and_contraction(20.0)
    rms, good = band_rms_frames(rest[:, :2250], RATE, S)
    assert rms.shape == good.shape == (1, 4) and good.all()


CRAMP_EARLY = Night(seconds=150.0, seed=5, bursts=[(10.0, 100.0, 4.0)])


def test_a_calibrated_floor_alarms_before_the_nights_own_floor_exists() -> None:
    cal = measured()
    uncal = starts(run(CRAMP_EARLY, None)[0])
    assert uncal and uncal[0].t_detect >= FLOOR_MIN_S  # without: nothing before the floor
    (first,) = starts(run(CRAMP_EARLY, cal)[0])
    assert 10.0 <= first.t_detect <= 10.0 + S.confirm_s + 3.0
    assert abs(first.t_onset - 10.0) <= 1.0


def test_a_poor_contacts_noise_before_the_nights_floor_exists_is_no_cramp_either() -> None:
    # the spectral-shape test works on the raw power until its own floors exist
    noise = Night(seconds=150.0, seed=5, contact_noise=[(10.0, 100.0, 4.0)])
    assert starts(run(noise, measured())[0]) == []
    assert starts(run(noise, measured())[0]) == starts(run(noise, None)[0])


def test_a_calibration_that_does_not_match_tonights_rest_is_not_trusted() -> None:
    cal = measured()
    too_low = Calibration(rest_uv=(cal.rest_uv[0] / 3,), contraction_uv=cal.contraction_uv)
    # trusted, the too-low seed would make 3× rest look like a cramp; it is not trusted, so
    # the night behaves as uncalibrated, and the mismatch is reported once the floor exists
    events, p = run(Night(seconds=150.0, seed=6), too_low)
    assert events == []
    assert p.statistics().floor_vs_calibration == pytest.approx(3.0, rel=0.2)
    early, _ = run(CRAMP_EARLY, too_low)
    assert [e.t_detect for e in starts(early)] == [e.t_detect for e in starts(
        run(CRAMP_EARLY, None)[0])]
    _, matched = run(Night(seconds=60.0, seed=6), cal)
    assert matched.statistics().floor_vs_calibration == pytest.approx(1.0, rel=0.2)
    _, plain = run(Night(seconds=60.0, seed=6), None)
    assert plain.statistics().floor_vs_calibration == 0.0


def test_a_cramp_already_on_when_the_session_starts_does_not_pass_as_rest() -> None:
    # the first calibration_check_s are the check: a cramp over all of them disagrees with the
    # calibrated rest, so the seed is not used (no alarm from a floor it cannot trust)
    night = Night(seconds=150.0, seed=8, bursts=[(0.0, 100.0, 4.0)])
    assert [e.t_detect for e in starts(run(night, measured())[0])] == [
        e.t_detect for e in starts(run(night, None)[0])]


@settings(max_examples=6, deadline=None)
@given(cuts=st.lists(st.integers(0, 150_000), max_size=20))
def test_calibrated_events_identical_for_any_partition(cuts: list[int]) -> None:
    cal = measured()
    whole = run(CRAMP_EARLY, cal)[0]
    assert starts(whole)
    assert run(CRAMP_EARLY, cal, cuts=cuts)[0] == whole


def test_calibration_channel_count_must_match() -> None:
    with pytest.raises(ValueError, match="2 channels"):
        Pipeline(S, emg_rate_hz=RATE, accel_rate_hz=50.0, n_emg_channels=1,
                 calibration=Calibration(rest_uv=(1.0, 1.0), contraction_uv=(9.0, 9.0)))
