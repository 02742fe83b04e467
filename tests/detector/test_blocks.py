"""Every stateful processor: blocks == batch (fresh instances, from sample/frame 0)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.floor import RestFloor, nan_quantile
from detector.framing import Framer, accel_boundary
from detector.mains import MainsDetector, band_and_hum_power
from detector.motion import MotionFeatures
from detector.quality import QualityGate, QualityThresholds
from detector.spectrum import SpectralFeatures, plan_bins
from detector.types import FloatArray
from tests.detector.synth import blocks

RATE, ARATE, L = 1000.0, 25.0, 500  # 12.5 accelerometer samples per frame: uneven frames
PLAN = plan_bins(frame_len=L, rate_hz=RATE, band_low_hz=40.0, band_high_hz=230.0,
                 mains_drift_hz=0.5, mains_halfwidth_hz=4.0)
THRESH = QualityThresholds(step_uv=150.0, hum_ratio=2.0, hold_frames=3)
cuts_st = st.lists(st.integers(0, 40), max_size=12)


def frame_batches(n: int, cuts: list[int]) -> list[tuple[int, int]]:
    edges = [0, *sorted(min(c, n) for c in cuts), n]
    return list(itertools.pairwise(edges))


def signal_frames(seed: int, n: int = 40) -> FloatArray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, n * L)) * rng.uniform(1, 10, (2, n * L // 2500 + 1)).repeat(
        2500, axis=1)[:, : n * L]
    t = np.arange(n * L) / RATE
    x += 20.0 * np.sin(2 * np.pi * 60.2 * t) * (t > 5)
    x[:, 3 * L: 5 * L] = 7.0  # a flat stretch
    x[1, 20 * L:] += 500.0  # a DC step on one channel
    return x.reshape(2, n, L)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cuts=st.lists(st.integers(0, 12_000), max_size=30),
       acuts=st.lists(st.integers(0, 300), max_size=30))
def test_framer_blocks_equal_batch(seed: int, cuts: list[int], acuts: list[int]) -> None:
    rng = np.random.default_rng(seed)
    emg, acc = rng.standard_normal((2, 12_000)), rng.standard_normal((3, 300))
    whole = Framer(n_emg_channels=2, emg_frame_len=L, emg_rate_hz=RATE, accel_rate_hz=ARATE)
    ref = whole.push(emg, acc)
    f = Framer(n_emg_channels=2, emg_frame_len=L, emg_rate_hz=RATE, accel_rate_hz=ARATE)
    eb, ab = blocks(emg, cuts), blocks(acc, acuts)
    got_e, got_a, bounds = [], [], [0]
    for i in range(max(len(eb), len(ab))):
        out = f.push(eb[i] if i < len(eb) else emg[:, :0], ab[i] if i < len(ab) else acc[:, :0])
        got_e.append(out.emg)
        got_a.append(out.accel)
        bounds += list(bounds[-1] + out.accel_bounds[1:])
    np.testing.assert_array_equal(np.concatenate(got_e, axis=1), ref.emg)
    np.testing.assert_array_equal(np.concatenate(got_a, axis=1), ref.accel)
    np.testing.assert_array_equal(bounds, ref.accel_bounds)
    assert ref.count == 24  # 12 s of both streams
    np.testing.assert_array_equal(ref.accel_bounds,
                                  accel_boundary(np.arange(25), L, RATE, ARATE))


def test_framer_one_sample_blocks() -> None:
    rng = np.random.default_rng(1)
    emg, acc = rng.standard_normal((1, 3000)), rng.standard_normal((3, 75))
    ref = Framer(n_emg_channels=1, emg_frame_len=L, emg_rate_hz=RATE, accel_rate_hz=ARATE).push(
        emg, acc)
    f = Framer(n_emg_channels=1, emg_frame_len=L, emg_rate_hz=RATE, accel_rate_hz=ARATE)
    out = [f.push(emg[:, i:i + 1], acc[:, i // 40:i // 40 + 1] if i % 40 == 0 else acc[:, :0])
           for i in range(3000)]
    np.testing.assert_array_equal(np.concatenate([o.emg for o in out], axis=1), ref.emg)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cuts=cuts_st)
def test_spectrum_mains_quality_blocks_equal_batch(seed: int, cuts: list[int]) -> None:
    frames = signal_frames(seed)
    spec = SpectralFeatures(PLAN, L)

    def chain(parts: list[tuple[int, int]]) -> tuple[FloatArray, ...]:
        mains = MainsDetector(PLAN, visible_ratio=2.0)
        gate = QualityGate(2, THRESH)
        outs = []
        for a, b in parts:
            s = spec.compute(frames[:, a:b])
            m = mains.update(s, a)
            band, hum = band_and_hum_power(s, PLAN, m)
            outs.append((m, band, hum, gate.classify(s, band, hum, a)))
        return tuple(np.concatenate([o[i] for o in outs], axis=-1) for i in range(4))

    ref = chain([(0, 40)])
    got = chain(frame_batches(40, cuts))
    for r, g in zip(ref, got, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=0)
    assert ref[0][-1] == 60.0  # the hum at 60.2 Hz was recognised
    assert (ref[3][:, 3:5] == 3).all()  # flat -> LEAD_OFF
    assert ref[3][1, 20] == 3 and ref[3][0, 20] != 3  # DC step on channel 1 only


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cuts=cuts_st)
def test_motion_blocks_equal_batch(seed: int, cuts: list[int]) -> None:
    rng = np.random.default_rng(seed)
    bounds_all = accel_boundary(np.arange(41), L, RATE, ARATE)
    acc = rng.standard_normal((3, int(bounds_all[-1]))) * 0.01 + np.array([[0.1], [0.0], [-1.0]])
    acc[:, 200:260] += rng.standard_normal((3, 60)) * 0.3

    def chain(parts: list[tuple[int, int]]) -> list[FloatArray]:
        m = MotionFeatures(shank_axis=0)
        outs = []
        for a, b in parts:
            lo, hi = int(bounds_all[a]), int(bounds_all[b])
            r = m.compute(acc[:, lo:hi], bounds_all[a:b + 1] - lo)
            outs.append(np.vstack([r.activity_g, r.tilt_deg, r.shank_g, r.valid]))
        return [np.concatenate(outs, axis=1)]

    np.testing.assert_allclose(chain(frame_batches(40, cuts))[0], chain([(0, 40)])[0],
                               rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cuts=st.lists(st.integers(0, 400), max_size=15))
def test_rest_floor_blocks_equal_batch(seed: int, cuts: list[int]) -> None:
    rng = np.random.default_rng(seed)
    log_env = rng.normal(0.7, 0.2, (2, 400)) + np.linspace(0, 1, 400)
    good = rng.random((2, 400)) > 0.1

    def chain(parts: list[tuple[int, int]]) -> FloatArray:
        f = RestFloor(n_channels=2, block_frames=7, history_blocks=12, block_quantile=0.2,
                      history_quantile=0.25, min_blocks=3)
        return np.concatenate([f.update(log_env[:, a:b], good[:, a:b]) for a, b in parts],
                              axis=1)

    ref = chain([(0, 400)])
    np.testing.assert_array_equal(chain(frame_batches(400, cuts)), ref)
    assert np.isnan(ref[:, :21]).all()  # at least 3 blocks of warm-up
    assert np.isfinite(ref[:, -1]).all()


def test_nan_quantile_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 11))
    a[a > 1.0] = np.nan
    want = np.nanquantile(a, 0.3, axis=-1)
    np.testing.assert_allclose(nan_quantile(a, 0.3, 1), want)
    assert np.isnan(nan_quantile(np.full((1, 4), np.nan), 0.5, 1)).all()
