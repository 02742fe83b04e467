"""Mains frequency detection (50 vs 60 Hz) from the signal, and hum-free band power.

The mains frequency is not configured: each frame votes with the log ratio of the excess power
(above the neighbouring EMG floor) on the 50 Hz-family bins to that on the 60 Hz-family bins, when
either is clearly visible. Votes accumulate over the night; once the sum passes a threshold the
family is fixed for the rest of the pipeline's life. Until then *both* families' bins are left out
of the EMG band power, so detection never waits on the decision.

Stateful (carries the evidence); no I/O, no clock.
"""

from __future__ import annotations

import numpy as np

from detector.spectrum import MAINS_FAMILIES_HZ, BinPlan, FrameSpectra
from detector.types import FloatArray

_VOTE_CLIP = 3.0  # one frame moves the evidence by at most e³ ≈ 20× ratio
# Accumulated log-ratio evidence (50 vs 60 Hz hum) needed to fix the mains frequency; one frame
# votes at most ±3 (_VOTE_CLIP), so at least 10 frames of clear hum decide. Not a setting: it
# moved no figure of the pooled nights at 0.5× and 1.5× (issue 15, BENCHMARKS.md), as detection
# never waits on the decision (both families are left out until then).
MAINS_EVIDENCE = 30.0


class MainsDetector:
    """Accumulates 50/60 Hz evidence; ``decided_hz`` is 0.0 until a decision is made."""

    def __init__(self, plan: BinPlan, *, visible_ratio: float) -> None:
        self._n_near = (float(plan.near[0].sum()), float(plan.near[1].sum()))
        self._visible_ratio = visible_ratio
        self.reset()

    def reset(self) -> None:
        self.evidence = 0.0  # > 0 favours 50 Hz
        self.decided_hz = 0.0
        self.decided_frame = -1

    def update(self, spectra: FrameSpectra, first_frame: int) -> FloatArray:
        """Feed one batch; return the mains frequency in force for each frame ``(n_frames,)``
        (0.0 = undecided). The deciding frame already uses its decision (it is causal)."""
        n = spectra.clean_mean.shape[1]
        out = np.full(n, self.decided_hz)
        if self.decided_hz or n == 0:
            return out
        floor = spectra.clean_mean.sum(axis=0)  # per-bin power summed over channels
        excess = [
            np.maximum(spectra.near_sum[i].sum(axis=0) - self._n_near[i] * floor, 0.0)
            for i in (0, 1)
        ]
        visible = np.zeros(n, dtype=bool)
        for i in (0, 1):
            visible |= excess[i] > self._visible_ratio * self._n_near[i] * floor
        visible &= spectra.valid.all(axis=0)
        tiny = 1e-12 + 1e-6 * floor
        with np.errstate(divide="ignore", invalid="ignore"):
            vote = np.clip(np.log((excess[0] + tiny) / (excess[1] + tiny)), -_VOTE_CLIP, _VOTE_CLIP)
        vote = np.where(visible & np.isfinite(vote), vote, 0.0)
        cum = self.evidence + np.cumsum(vote)
        hit = np.flatnonzero(np.abs(cum) >= MAINS_EVIDENCE)
        if hit.size:
            j = int(hit[0])
            self.decided_hz = MAINS_FAMILIES_HZ[0] if cum[j] > 0 else MAINS_FAMILIES_HZ[1]
            self.decided_frame = first_frame + j
            self.evidence = float(cum[j])
            out[j:] = self.decided_hz
        else:
            self.evidence = float(cum[-1])
        return out


def band_and_hum_power(spectra: FrameSpectra, plan: BinPlan,
                       mains_hz: FloatArray) -> tuple[FloatArray, FloatArray]:
    """EMG band power and hum power, both µV² ``(n_ch, n_frames)``, given the mains in force.

    Band power = mean power of the usable bins (clean, plus the other family's bins once the
    mains is known) × number of band bins. Hum power = excess of the mains family's bins over
    that floor (undecided: the larger of the two families).
    """
    n_clean = float(plan.clean.sum())
    n_near = (float(plan.near[0].sum()), float(plan.near[1].sum()))
    n_band = float(plan.band.sum())
    clean_sum = spectra.clean_mean * n_clean
    is50 = mains_hz == MAINS_FAMILIES_HZ[0]
    is60 = mains_hz == MAINS_FAMILIES_HZ[1]
    usable_sum = clean_sum + np.where(is50, spectra.near_sum[1], 0.0) + np.where(
        is60, spectra.near_sum[0], 0.0)
    usable_n = n_clean + np.where(is50, n_near[1], 0.0) + np.where(is60, n_near[0], 0.0)
    per_bin = usable_sum / usable_n
    hum = [np.maximum(spectra.near_sum[i] - n_near[i] * per_bin, 0.0) for i in (0, 1)]
    hum_pow = np.where(is50, hum[0], np.where(is60, hum[1], np.maximum(hum[0], hum[1])))
    return per_bin * n_band, hum_pow
