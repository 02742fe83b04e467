"""The named cramp rules (detector.rules) on hand-made levels."""

from __future__ import annotations

import math

import numpy as np

from detector import rules


def test_a_candidate_is_over_below_its_own_excess_fraction_not_a_multiple_of_rest() -> None:
    strong, weak = math.log(6.0), math.log(2.5)  # plateaus 6× and 2.5× rest
    # the 2× residual after a 6× cramp is far below half its excess (1 + 0.5 × 5 = 3.5×) …
    assert rules.is_over(math.log(2.0), strong, 0.5)
    assert not rules.is_over(math.log(4.0), strong, 0.5)
    # … while for a 2.5× cramp half its excess is 1.75×: 2× is still the cramp
    assert not rules.is_over(math.log(2.0), weak, 0.5)
    assert rules.is_over(math.log(1.6), weak, 0.5)


def test_the_end_threshold_follows_the_cramps_excess_within_its_clamps() -> None:
    lo, hi = math.log(1.3), math.log(3.2)
    assert math.exp(rules.end_threshold(math.log(2.0), 0.8, lo, hi)) == 1.8
    assert math.exp(rules.end_threshold(math.log(9.0), 0.8, lo, hi)) == 3.2
    assert math.isclose(math.exp(rules.end_threshold(math.log(1.2), 0.8, lo, hi)), 1.3)


def test_a_walk_ends_the_cramp_where_its_level_between_the_steps_stayed_low() -> None:
    thr = 1.0
    levels = [1.4, 1.5, 1.3, 1.2, 0.9, 0.8, 1.1, 0.7, 0.8, 0.6]
    assert rules.walked_off_since(levels, thr) == 4  # a single pop above (1.1) is outvoted
    assert rules.walked_off_since([1.4, 1.5, 1.2], thr) == 3  # still on: no end in the walk
    assert rules.walked_off_since([0.5, 0.6], thr) == 0


def test_the_onset_after_a_cramp_adds_the_residuals_excess_power_and_decays() -> None:
    onset, residual = math.log(1.8), math.log(2.0)
    since = np.asarray([0.0, 1e9])
    unmeasured = np.full(2, np.inf)
    excess = rules.post_cramp_excess_log(residual, since, 3600.0, unmeasured, 1000.0 + since)
    raised, back = np.exp(rules.onset_with_excess(onset, excess))
    assert math.isclose(raised, math.sqrt(1.8**2 + 2.0**2 - 1.0))
    assert math.isclose(back, 1.8)


def test_the_raise_never_exceeds_the_residual_measured_and_decays_from_it() -> None:
    onset, residual, tau = math.log(1.8), math.log(2.0), 3600.0
    frames = np.asarray([100.0, 100.0 + tau])
    # measured at frame 100: a residual of 1.2× (excess power 0.44), below the assumed 2×
    cap = np.full(2, math.log(1.2**2 - 1.0) + 100.0 / tau)
    excess = rules.post_cramp_excess_log(residual, frames - 100.0, tau, cap, frames)
    now, later = np.exp(rules.onset_with_excess(onset, excess))
    assert math.isclose(now, math.sqrt(1.8**2 + 1.2**2 - 1.0))
    assert math.isclose(later, math.sqrt(1.8**2 + (1.2**2 - 1.0) / math.e))
    # a measurement above the assumed residual (gait after a walk-off) does not lift it
    high = np.full(2, math.log(3.0**2 - 1.0) + 100.0 / tau)
    excess = rules.post_cramp_excess_log(residual, frames - 100.0, tau, high, frames)
    assert math.isclose(float(np.exp(rules.onset_with_excess(onset, excess))[0]),
                        math.sqrt(1.8**2 + 2.0**2 - 1.0))
    # a residual measured at rest removes the raise
    rest = np.full(2, -np.inf)
    excess = rules.post_cramp_excess_log(residual, frames - 100.0, tau, rest, frames)
    assert np.allclose(np.exp(rules.onset_with_excess(onset, excess)), 1.8)


def test_confirmation_takes_the_longest_context() -> None:
    base = dict(confirm_frames=12, after_motion_frames=16, plm_min_bursts=1,
                plm_confirm_frames=22, blind_confirm_frames=24)
    assert rules.confirmation_frames(after_motion=False, plm_bursts=0, blind=False,
                                     **base) == 12
    assert rules.confirmation_frames(after_motion=True, plm_bursts=1, blind=False,
                                     **base) == 22
    assert rules.confirmation_frames(after_motion=True, plm_bursts=1, blind=True, **base) == 24


def test_after_a_walk_off_the_residual_is_the_cramps_own_end_threshold_at_least_2x() -> None:
    usual = math.log(2.0)
    assert rules.walked_off_residual(math.log(3.2), usual) == math.log(3.2)
    assert rules.walked_off_residual(math.log(1.5), usual) == usual
