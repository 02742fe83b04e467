"""Signal-quality gate per EMG channel and frame.

A frame is bad for a channel when (checked in this order, first match wins):

* ``NO_SIGNAL`` — a sample was missing (gap) or not finite;
* ``LEAD_OFF`` — flat line (peak-to-peak below :data:`FLAT_PTP_UV`: a disconnected or shorted
  input), rail saturation (a share :data:`RAIL_FRACTION` of samples sitting exactly on an extreme
  of at least ``spectrum.RAIL_MIN_UV``: lead-off comparators drive the input to the rails
  [TI92]), or a DC step larger than ``step_uv`` between consecutive frames (electrode contact
  change);
* ``HUM`` — mains hum dominates: hum RMS above both :data:`HUM_MIN_UV` and ``hum_ratio`` × band
  RMS, or hum risen far above the night's usual hum (computed by the caller): a lifted electrode
  picks up mains first [Mew04];
* ``NOISY`` — drift / motion artefact: RMS below ``spectrum.LOW_BAND_HZ`` above both
  :data:`DRIFT_MIN_UV` and :data:`DRIFT_RATIO` × band RMS [DL10, vB01].

A bad frame keeps the channel bad for ``hold_frames`` more frames, so the gate does not flicker.
Stateful (previous frame mean, last bad frame); no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.settings import DetectorSettings
from detector.spectrum import RAIL_MIN_UV, FrameSpectra
from detector.types import FloatArray, Quality

# Not settings: each moved no figure of the pooled nights at 0.5× and 1.5× (issue 15).
# Peak-to-peak below this in a frame (µV) = flat line (lead off / shorted input): even a relaxed
# muscle's surface EMG is a few µV RMS (rest floor 1-7 µV [physiology.md §6]).
FLAT_PTP_UV = 0.5
# Share of a frame's samples sitting exactly on its extreme (at least RAIL_MIN_UV from 0) that
# means saturation: lead-off comparators drive the input to the rails [TI92].
RAIL_FRACTION = 0.02
# Mains hum RMS (µV) below which hum is never called dominant (HUM, with the setting hum_ratio):
# the mains bins are left out of the EMG band, so a hum this weak cannot spoil it [Mew04]. Moved
# no figure at ±50 % (BENCHMARKS.md, issue 15 sweep).
HUM_MIN_UV = 8.0
# Low-band (drift) RMS (µV, below spectrum.LOW_BAND_HZ) below which the signal is never called
# noisy: motion artefact and baseline wander sit there [DL10, vB01], far above surface EMG's few
# µV. Moved no figure at ±50 % (BENCHMARKS.md, issue 15 sweep).
DRIFT_MIN_UV = 500.0
# Low-band RMS above this × EMG band RMS = drift dominates (quality NOISY) [DL10, vB01]. Moved no
# figure at ±50 % (BENCHMARKS.md, issue 15 sweep).
DRIFT_RATIO = 50.0

# integer codes, worst last so ``max`` over channels picks the most informative reason
CODES = (Quality.GOOD, Quality.NOISY, Quality.HUM, Quality.LEAD_OFF, Quality.NO_SIGNAL)
GOOD, NOISY, HUM, LEAD_OFF, NO_SIGNAL = range(5)


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityThresholds:
    step_uv: float
    hum_ratio: float
    hold_frames: int


def settings_thresholds(s: DetectorSettings, *, hold_frames: int) -> QualityThresholds:
    """The gate's thresholds from ``s``, with a hold of ``hold_frames`` frames."""
    return QualityThresholds(
        step_uv=s.step_uv, hum_ratio=s.hum_ratio, hold_frames=hold_frames)


class QualityGate:
    def __init__(self, n_channels: int, thresholds: QualityThresholds) -> None:
        self._n_ch = n_channels
        self._t = thresholds
        self.reset()

    def reset(self) -> None:
        self._prev_mean = np.full(self._n_ch, np.nan)
        self._last_bad = np.full(self._n_ch, -(10**12), dtype=np.int64)
        self._last_code = np.full(self._n_ch, NO_SIGNAL, dtype=np.int64)

    def classify(self, spectra: FrameSpectra, band_pow: FloatArray, hum_pow: FloatArray,
                 first_frame: int, hum_rise: np.ndarray | None = None) -> np.ndarray:
        """Quality code per channel and frame ``(n_ch, n_frames)`` (0 = good), holds applied.
        ``hum_rise`` (optional, same shape): hum far above this night's usual hum level."""
        t = self._t
        n = band_pow.shape[1]
        if n == 0:
            return np.zeros((self._n_ch, 0), dtype=np.int64)
        band_rms = np.sqrt(band_pow)
        prev = np.concatenate((self._prev_mean[:, None], spectra.mean_uv[:, :-1]), axis=1)
        step = np.abs(spectra.mean_uv - prev) > t.step_uv  # NaN prev -> False
        lead_off = (
            (spectra.max_uv - spectra.min_uv < FLAT_PTP_UV)
            | ((spectra.at_rail >= RAIL_FRACTION)
               & (np.maximum(np.abs(spectra.max_uv), np.abs(spectra.min_uv)) >= RAIL_MIN_UV))
            | step
        )
        hum = np.sqrt(hum_pow) > np.maximum(HUM_MIN_UV, t.hum_ratio * band_rms)
        if hum_rise is not None:
            hum |= hum_rise
        noisy = np.sqrt(spectra.low_pow) > np.maximum(DRIFT_MIN_UV, DRIFT_RATIO * band_rms)
        code = np.where(noisy, NOISY, GOOD)
        code = np.where(hum, HUM, code)
        code = np.where(lead_off, LEAD_OFF, code)
        code = np.where(spectra.valid, code, NO_SIGNAL)
        # the mean of an invalid frame is meaningless: do not compare the next frame with it
        means = np.where(spectra.valid, spectra.mean_uv, np.nan)
        self._prev_mean = means[:, -1].copy()
        # hold: a channel stays bad for hold_frames after its last bad frame, with that reason
        idx = first_frame + np.arange(n)
        bad_idx = np.where(code > GOOD, idx[None, :], -(10**12))
        bad_idx[:, 0] = np.maximum(bad_idx[:, 0], self._last_bad)
        last_bad = np.maximum.accumulate(bad_idx, axis=1)
        src = np.clip(last_bad - first_frame, 0, n - 1)
        last_code = np.take_along_axis(code, src, axis=1)
        last_code = np.where(last_bad < first_frame, self._last_code[:, None], last_code)
        held = (code == GOOD) & (idx[None, :] - last_bad <= t.hold_frames)
        out = np.where(held, last_code, code)
        self._last_bad = last_bad[:, -1].copy()
        self._last_code = last_code[:, -1].copy()
        return out
