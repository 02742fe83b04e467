"""Rendering: deterministic per seed, identical whatever the chunk size, bounded and finite."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.simulation import NightPlan, plan_night, render_chunks, render_window
from firmware_bridge.simulation.render import ACCEL_RANGE_G
from firmware_bridge.simulation.schedule import RAIL_UV

FloatArray = npt.NDArray[np.float64]

# A short dense night at forced rates: cramps, PLMs, turns, gait... inside 6 minutes.
PLAN = plan_night(seed=11, hours=0.1, profile="dense", emg_rate_hz=500, accel_rate_hz=50)


def _whole(plan: NightPlan, chunk_s: float) -> tuple[FloatArray, FloatArray, list[Any]]:
    chunks = list(render_chunks(plan, chunk_s))
    emg = np.concatenate([e for e, _ in chunks], axis=1)
    acc = np.concatenate([a for _, a in chunks], axis=1)
    return emg, acc, chunks


REF_EMG, REF_ACC, REF_CHUNKS = _whole(PLAN, 60.0)


def test_chunks_cover_the_night_with_the_right_shapes() -> None:
    n_ch = len(PLAN.emg_labels)
    assert REF_EMG.shape == (n_ch, round(PLAN.duration_s * PLAN.emg_rate_hz))
    assert REF_ACC.shape == (3, round(PLAN.duration_s * PLAN.accel_rate_hz))
    assert REF_EMG.dtype == np.float64 and REF_ACC.dtype == np.float64
    assert len(REF_CHUNKS) == 6
    for e, a in REF_CHUNKS:
        assert e.shape == (n_ch, 60 * 500) and a.shape == (3, 60 * 50)
    assert np.isfinite(REF_EMG).all() and np.isfinite(REF_ACC).all()
    assert np.abs(REF_EMG).max() <= RAIL_UV and np.abs(REF_ACC).max() <= ACCEL_RANGE_G


def test_same_seed_same_night_other_seed_other_night() -> None:
    emg, acc, _ = _whole(plan_night(seed=11, hours=0.1, profile="dense", emg_rate_hz=500,
                                    accel_rate_hz=50), 60.0)  # fmt: skip
    np.testing.assert_array_equal(emg, REF_EMG)
    np.testing.assert_array_equal(acc, REF_ACC)
    other = plan_night(seed=12, hours=0.1, profile="dense", emg_rate_hz=500, accel_rate_hz=50)
    emg2, _, _ = _whole(other, 60.0)
    assert not np.allclose(emg2[:1], REF_EMG[:1])


@settings(max_examples=6, deadline=None)
@given(chunk_s=st.floats(0.013, 150.0))
def test_chunk_size_does_not_change_the_signal(chunk_s: float) -> None:
    emg, acc, _chunks = _whole(PLAN, chunk_s)
    np.testing.assert_array_equal(emg, REF_EMG)
    np.testing.assert_array_equal(acc, REF_ACC)


def test_tiny_and_odd_chunks() -> None:
    short = plan_night(seed=3, hours=0.005, profile="dense", emg_rate_hz=1000, accel_rate_hz=64)
    ref_e, ref_a, _ = _whole(short, 1000.0)  # one chunk
    for chunk_s in (0.001, 0.0156, 9.999, 10.0, 10.001):
        e, a, _ = _whole(short, chunk_s)
        np.testing.assert_array_equal(e, ref_e)
        np.testing.assert_array_equal(a, ref_a)


def test_window_equals_the_slice_of_the_stream() -> None:
    for a, b in ((0.0, 0.5), (59.97, 61.3), (123.4, 200.0), (350.0, 360.0)):
        e, acc = render_window(PLAN, a, b)
        np.testing.assert_array_equal(e, REF_EMG[:, round(a * 500) : round(b * 500)])
        np.testing.assert_array_equal(acc, REF_ACC[:, round(a * 50) : round(b * 50)])


def test_every_episode_kind_rendered_here_changes_the_signal() -> None:
    """The dense plan really contains activity: not just a floor (a test that can fail)."""
    kinds = {e.kind for e in PLAN.episodes}
    assert {"cramp", "soreness"} <= kinds
    rms = np.sqrt(np.mean(REF_EMG[0] ** 2))
    assert rms > 2 * PLAN.subject.noise_floor_uv
