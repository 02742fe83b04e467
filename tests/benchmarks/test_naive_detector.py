"""The naive reference detector: finds a plain burst, skips a short one, is block-size invariant."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.naive_detector import NaiveDetector, NaiveSettings
from detector.types import CrampDetector, DetectorEvent, EventKind, FloatArray, Quality

FS = 500.0
ACC_FS = 50.0
CFG = NaiveSettings(calibration_s=5.0, hold_on_s=2.0, hold_off_s=2.0)


def night(seed: int, seconds: float = 60.0) -> tuple[FloatArray, FloatArray]:
    """Two channels of 2 µV rest noise, a 20 µV burst at 20–35 s and a 1-s one at 45 s."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    emg = rng.standard_normal((2, n)) * 2.0
    t = np.arange(n) / FS
    gain = np.where((t >= 20.0) & (t < 35.0), 10.0, 1.0) * np.where(
        (t >= 45.0) & (t < 46.0), 10.0, 1.0
    )
    accel = np.zeros((3, int(seconds * ACC_FS)))
    accel[2] = 1.0
    return emg * gain, accel


def fresh() -> NaiveDetector:
    return NaiveDetector(CFG, emg_rate_hz=FS, accel_rate_hz=ACC_FS, n_emg_channels=2)


def run_blocks(emg: FloatArray, accel: FloatArray, cuts: list[int]) -> list[DetectorEvent]:
    det = fresh()
    events: list[DetectorEvent] = []
    bounds = [0, *sorted(cuts), emg.shape[1]]
    for a, b in itertools.pairwise(bounds):
        # accelerometer blocks follow the EMG blocks in time, at a tenth of the rate
        events += det.process(emg[:, a:b], accel[:, a // 10 : b // 10])
    events += det.process(emg[:, :0], accel[:, accel.shape[1] // 10 * 10 :])
    return events + det.finish()


def test_finds_the_long_burst_and_skips_the_short_one() -> None:
    emg, accel = night(1)
    det: CrampDetector = fresh()  # mypy checks that it implements the protocol
    assert det.status().quality is Quality.NO_SIGNAL
    events = det.process(emg, accel) + det.finish()
    assert [e.kind for e in events] == [EventKind.CRAMP_STARTED, EventKind.CRAMP_ENDED]
    start, end = events
    assert start.t_onset == pytest.approx(20.0, abs=0.25)
    assert start.t_detect == pytest.approx(start.t_onset + CFG.hold_on_s, abs=0.01)
    assert end.t_end == pytest.approx(35.0, abs=0.5)
    assert start.intensity > 5.0 and 5.0 < end.intensity <= end.peak_intensity
    status, stats = det.status(), det.statistics()
    assert status.quality is Quality.GOOD and status.t == pytest.approx(60.0)
    assert status.rest_floor_uv == pytest.approx(2.0, rel=0.2)  # band-passed white noise
    assert (stats.emg_samples, stats.accel_samples, stats.events, stats.cramps) == (
        emg.shape[1],
        accel.shape[1],
        2,
        1,
    )


def test_cramp_running_at_the_end_is_ended_by_finish() -> None:
    emg, accel = night(2, seconds=30.0)
    det = fresh()
    events = det.process(emg, accel)
    assert [e.kind for e in events] == [EventKind.CRAMP_STARTED]
    (end,) = det.finish()
    assert end.t_end == pytest.approx(30.0) and end.kind is EventKind.CRAMP_ENDED
    assert det.finish() == []


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cuts=st.lists(st.integers(0, 30000), max_size=30))
def test_blocks_equal_batch(seed: int, cuts: list[int]) -> None:
    emg, accel = night(seed)
    batch = run_blocks(emg, accel, [])
    assert len(batch) == 2
    assert run_blocks(emg, accel, cuts) == batch  # exact: same samples, same arithmetic


def test_one_sample_blocks_equal_batch() -> None:
    emg, accel = night(3, seconds=40.0)
    # one sample per block across the onset (19–24 s) and the end (34–38 s) of the burst
    cuts = [*range(int(19 * FS), int(24 * FS)), *range(int(34 * FS), int(38 * FS))]
    batch = run_blocks(emg, accel, [])
    assert len(batch) == 2
    assert run_blocks(emg, accel, cuts) == batch


def test_gap_drops_partial_window_and_keeps_time() -> None:
    emg, accel = night(4)
    det = fresh()
    first = det.process(emg[:, :5001], accel[:, :500])
    assert first == []
    assert det.gap(2500, 250) == []  # 5 s lost, ending mid-window
    events = det.process(emg[:, 7501:], accel[:, 750:]) + det.finish()
    start = events[0]
    assert start.t_onset == pytest.approx(20.0, abs=0.25)  # time still counts the gap
    stats = det.statistics()
    assert (stats.gaps, stats.gap_samples) == (1, 2500)
    assert stats.emg_samples == emg.shape[1] - 1 - 2500 + 1


@pytest.mark.parametrize(
    ("emg_shape", "accel_shape"), [((1, 10), (3, 1)), ((2,), (3, 1)), ((2, 10), (2, 1))]
)
def test_wrong_shapes_name_the_expected_one(
    emg_shape: tuple[int, ...], accel_shape: tuple[int, ...]
) -> None:
    with pytest.raises(ValueError, match="must have shape"):
        fresh().process(np.zeros(emg_shape), np.zeros(accel_shape))


def test_flat_start_cannot_make_the_floor_zero() -> None:
    det = fresh()
    det.process(np.zeros((2, int(10 * FS))), np.zeros((3, int(10 * ACC_FS))))
    assert det.status().rest_floor_uv == CFG.min_floor_uv
