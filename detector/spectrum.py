"""Per-frame spectra of the EMG: band power with mains bins left out, hum and drift measures.

Each frame (``L`` samples, ``frame_s`` long) is multiplied by a periodic Hann window and
transformed with one real FFT (vectorised over all frames and channels of a batch).
With 0.5 s frames the bins are 2 Hz apart, so every 50 Hz and 60 Hz harmonic falls on a bin and
the two families never share one inside the EMG band.

*Mains removal by spectrum interpolation* [Mew04, physiology.md §3]: the EMG band power is the
mean power of the bins *away* from the mains harmonics, scaled to the full band width (as if the
spectrum continued smoothly through the excluded bins). Unlike a notch, it does not degrade when
the mains frequency drifts by ±0.5 Hz (the excluded width grows with the harmonic number), costs
no filter state and is identical for any block partition because each frame stands alone.

Stateless; no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy import signal

from detector.settings import DetectorSettings
from detector.types import FloatArray

MAINS_FAMILIES_HZ = (50.0, 60.0)  # the two mains frequencies in use worldwide [Mew04]
# Upper edge (Hz) of the drift / motion-artefact band used by the quality gate (NOISY, with
# quality.DRIFT_MIN_UV and DRIFT_RATIO) [DL10, vB01], below the EMG band (emg_band_low_hz,
# 40 Hz). Not a setting: it moved no figure of the pooled nights at 0.5× and 1.5× (issue 15,
# BENCHMARKS.md).
LOW_BAND_HZ = 10.0
# Saturation needs the extreme sample at least this far from 0 (µV): lead-off comparators drive
# the input to the rails [TI92], far beyond surface EMG's amplitude. ``at_rail`` is counted only
# for such frames; the quality gate (LEAD_OFF, with quality.RAIL_FRACTION) checks it too. Not a
# setting: it moved no figure of the pooled nights at 0.5× and 1.5× (issue 15).
RAIL_MIN_UV = 1000.0


@dataclass(frozen=True, slots=True)
class BinPlan:
    """Which rfft bins play which role. All masks have shape ``(n_bins,)``."""

    freqs_hz: FloatArray
    band: np.ndarray  # inside the EMG band
    near: tuple[np.ndarray, np.ndarray]  # inside the band and near a 50 / 60 Hz harmonic
    clean: np.ndarray  # inside the band and near neither family
    low: np.ndarray  # bin 2 .. LOW_BAND_HZ: baseline wander / motion-artefact band (not DC)
    scale: float  # power-sum -> µV² for a one-sided, Hann-windowed frame
    # clean band bins below / above the spectral-shape split (FrameSpectra.lower/upper_mean)
    lower: np.ndarray
    upper: np.ndarray


def plan_bins(*, frame_len: int, rate_hz: float, band_low_hz: float, band_high_hz: float,
              mains_drift_hz: float, mains_halfwidth_hz: float,
              split_hz: tuple[float, float] = (110.0, 140.0)) -> BinPlan:
    """Assign the bins of an ``frame_len``-point rfft at ``rate_hz``.

    A bin is "near" harmonic ``h`` of ``f0`` when ``|f - h f0| <= mains_halfwidth_hz + h *
    mains_drift_hz`` (a fundamental drifting by ``mains_drift_hz`` moves harmonic h by ``h`` times
    that; the half-width covers the Hann main lobe, ±2 bins).
    """
    high = min(band_high_hz, 0.46 * rate_hz)
    if high <= band_low_hz:
        raise ValueError(
            f"EMG band {band_low_hz}-{band_high_hz} Hz does not fit under {rate_hz} Hz sampling"
        )
    freqs = scipy.fft.rfftfreq(frame_len, 1.0 / rate_hz)
    band = (freqs >= band_low_hz) & (freqs <= high)
    near_list = []
    for f0 in MAINS_FAMILIES_HZ:
        h = np.maximum(1.0, np.round(freqs / f0))
        near_list.append(band & (np.abs(freqs - h * f0) <= mains_halfwidth_hz + h * mains_drift_hz))
    near = (near_list[0] & ~near_list[1], near_list[1] & ~near_list[0])
    clean = band & ~near_list[0] & ~near_list[1]
    if clean.sum() < 4:
        raise ValueError("frame too short: fewer than 4 clean bins in the EMG band")
    # bin 0-1 carry the DC leakage of the periodic Hann window (mean not removed)
    low = (np.arange(freqs.size) >= 2) & (freqs <= LOW_BAND_HZ)
    window = signal.get_window("hann", frame_len)  # periodic Hann
    # Parseval for a windowed one-sided spectrum: sigma² ≈ 2 Σ|X|² / (L Σw²)
    scale = 2.0 / (frame_len * float(np.sum(window**2)))
    lower = clean & (freqs <= split_hz[0])
    upper = clean & (freqs >= split_hz[1])
    if not lower.any() or not upper.any():
        raise ValueError(f"no clean bins below {split_hz[0]} or above {split_hz[1]} Hz in the "
                         "EMG band")
    return BinPlan(freqs_hz=freqs, band=band, near=near, clean=clean, low=low, scale=scale,
                   lower=lower, upper=upper)


def settings_bin_plan(s: DetectorSettings, frame_len: int, rate_hz: float) -> BinPlan:
    """:func:`plan_bins` with the band edges, mains widths and shape split of ``s``."""
    return plan_bins(frame_len=frame_len, rate_hz=rate_hz, band_low_hz=s.emg_band_low_hz,
                     band_high_hz=s.emg_band_high_hz, mains_drift_hz=s.mains_drift_hz,
                     mains_halfwidth_hz=s.mains_halfwidth_hz,
                     split_hz=(s.shape_split_low_hz, s.shape_split_high_hz))


@dataclass(frozen=True, slots=True)
class FrameSpectra:
    """Per-frame measures, each ``(n_ch, n_frames)``; powers in µV² over the frame.

    ``clean_mean``: mean per-bin power (µV² per bin) of the clean bins; ``near_sum[i]``: summed
    power of the bins near family i (50, 60 Hz); ``low_pow``: power in the low band; ``mean_uv``,
    ``min_uv``, ``max_uv``: raw sample statistics; ``at_rail``: fraction of samples equal to the
    frame's extreme with the larger magnitude (0 unless that is at least :data:`RAIL_MIN_UV`);
    ``valid``: every sample finite.
    """

    clean_mean: FloatArray
    near_sum: tuple[FloatArray, FloatArray]
    low_pow: FloatArray
    mean_uv: FloatArray
    min_uv: FloatArray
    max_uv: FloatArray
    at_rail: FloatArray
    valid: np.ndarray
    # mean per-bin power (µV² per bin) of the clean bins below / above the shape split
    lower_mean: FloatArray
    upper_mean: FloatArray


class SpectralFeatures:
    """Computes :class:`FrameSpectra` for batches of frames ``(n_ch, n_frames, L)`` µV."""

    def __init__(self, plan: BinPlan, frame_len: int) -> None:
        self.plan = plan
        self._window32 = signal.get_window("hann", frame_len).astype(np.float32)
        # only bins up to the highest one used are squared and summed
        used = plan.band | plan.low
        self._n_used = int(np.flatnonzero(used)[-1]) + 1
        # one matrix product gives every bin-group sum: columns clean, near50, near60, low,
        # and the clean bins below / above the shape split as per-bin means
        groups = np.stack([plan.clean, plan.near[0], plan.near[1], plan.low,
                           plan.lower / plan.lower.sum(), plan.upper / plan.upper.sum()], axis=1)
        self._groups = groups[: self._n_used].astype(np.float64) * plan.scale
        self._n_clean = float(plan.clean.sum())

    def compute(self, frames: FloatArray) -> FrameSpectra:
        n_ch, n, length = frames.shape
        total = frames.sum(axis=-1)
        valid: np.ndarray = np.asarray(np.isfinite(total))  # NaN/inf anywhere -> not finite
        x = frames if valid.all() else np.where(valid[..., None], frames, 0.0)
        if not valid.all():
            total = x.sum(axis=-1)
        mean = total / length
        lo = x.min(axis=-1)
        hi = x.max(axis=-1)
        rail = np.where(np.abs(hi) >= np.abs(lo), hi, lo)
        at_rail = np.zeros((n_ch, n))
        big = np.abs(rail) >= RAIL_MIN_UV  # only frames that could be saturated
        if big.any():
            at_rail[big] = np.count_nonzero(x[big] == rail[big][:, None], axis=-1) / length
        # The periodic Hann window confines DC to bins 0-1 (both outside every band used), so
        # the mean need not be removed first. float32 halves the FFT cost; powers need ~1e-6.
        spec = scipy.fft.rfft(x.astype(np.float32) * self._window32, axis=-1)
        spec = spec[..., : self._n_used]
        power = (spec.real**2 + spec.imag**2).astype(np.float64)
        sums = power.reshape(n_ch * n, self._n_used) @ self._groups
        sums = sums.reshape(n_ch, n, 6)
        return FrameSpectra(
            clean_mean=sums[..., 0] / self._n_clean,
            near_sum=(sums[..., 1], sums[..., 2]),
            low_pow=sums[..., 3],
            mean_uv=mean,
            min_uv=lo,
            max_uv=hi,
            at_rail=at_rail,
            valid=valid,
            lower_mean=sums[..., 4],
            upper_mean=sums[..., 5],
        )
