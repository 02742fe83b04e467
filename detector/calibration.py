"""Optional per-person calibration: the calf EMG at rest and during a voluntary contraction.

Nothing needs it: the rest floor tracks the night by itself (:mod:`detector.floor`). What it adds:

* **an electrode check**: a voluntary calf contraction raises surface EMG many times over rest
  (same muscle and task: median 1-s RMS 98.6 vs 4.1 µV between people, and far more between rest
  and contraction [physiology.md §6, computed, UCI]). A contraction that barely moves the level
  means the electrode is not over the contracting muscle, or over a silent part of it [KB07]; a
  misplaced sEMG sensor's detection fell to 33 % in the SPEAC trial [AAN15]. That is refused with
  a message, before a night is spent watching the wrong spot;
* **a floor from the first second**: the rest level seeds the rest floor, so the detector can
  alarm before the night's own floor exists (``detector.floor.FLOOR_MIN_S`` of good signal),
  e.g. when the night starts with a cramp. The night's own floor takes over as soon as it
  exists, and the pipeline reports how far it is from the calibrated one (an electrode moved
  since).

Levels are measured exactly as the pipeline measures them (same frames, EMG band, mains bins left
out, quality gate), so they are in the floor's units. The contraction should be moderate and brief
(a few seconds): a maximal calf contraction with the toes pointed brought on a cramp within 60 s
in 31 % of people [VIC].

Pure: arrays in, a :class:`Calibration` out; no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from detector.mains import band_and_hum_power
from detector.quality import GOOD, QualityGate, settings_thresholds
from detector.rates import check_emg_rate
from detector.settings import DetectorSettings
from detector.spectrum import SpectralFeatures, settings_bin_plan
from detector.types import FloatArray

FORMAT = "crampwatch-calibration/1"


class CalibrationError(ValueError):
    """The recording cannot calibrate: the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Calibration:
    """Per EMG channel: EMG-band RMS (µV) at rest and during the contraction."""

    rest_uv: tuple[float, ...]
    contraction_uv: tuple[float, ...]

    @property
    def contraction_ratio(self) -> tuple[float, ...]:
        """Contraction / rest per channel."""
        return tuple(c / r for c, r in zip(self.contraction_uv, self.rest_uv, strict=True))

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "rest_uv": [round(v, 4) for v in self.rest_uv],
                "contraction_uv": [round(v, 4) for v in self.contraction_uv]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        """Check and read :meth:`as_dict` output; :class:`CalibrationError` names what is wrong."""
        if data.get("format") != FORMAT:
            raise CalibrationError(f"not a calibration (format {data.get('format')!r}, "
                                   f"expected {FORMAT!r})")
        values: list[tuple[float, ...]] = []
        for key in ("rest_uv", "contraction_uv"):
            raw = data.get(key)
            if not isinstance(raw, list) or not raw or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                    and v > 0 for v in raw):
                raise CalibrationError(f"{key} must be a non-empty list of positive numbers")
            values.append(tuple(float(v) for v in raw))
        if len(values[0]) != len(values[1]):
            raise CalibrationError("rest_uv and contraction_uv have different channel counts")
        return cls(rest_uv=values[0], contraction_uv=values[1])


class CalibratedStart:
    """Fills the rest floor with the calibrated rest while the night's own floor warms up.

    A floor seeded too low would make rest look like a cramp (a wearable put on elsewhere than
    at calibration, or a session starting mid-night after a reconnect), so per channel the seed
    is only trusted once the first ``check_frames`` usable frames agree with it: their
    ``quantile`` (the floor's own block statistic) within ``tolerance`` × of the calibrated rest,
    either way. Until then the floor stays unknown (no alarm); if they disagree (a mismatch, or
    a cramp already on) the channel just waits for its own floor, as without a calibration.
    Once the channel's own floor exists, the seed is never used again.

    Decided on frame order only, so the result is the same for any block partition.
    """

    PENDING, TRUSTED, REJECTED, DONE = 0, 1, 2, 3

    def __init__(self, calibration: Calibration, *, check_frames: int, tolerance: float,
                 quantile: float) -> None:
        self._seed = np.log(np.asarray(calibration.rest_uv, dtype=np.float64))
        self._check = max(1, check_frames)
        self._tol = math.log(tolerance)
        self._q = quantile
        n_ch = self._seed.size
        self._state = np.full(n_ch, self.PENDING)
        self._seen: list[list[float]] = [[] for _ in range(n_ch)]

    def fill(self, floor: FloatArray, log_env: FloatArray, good: np.ndarray) -> FloatArray:
        """``floor``, ``log_env`` (natural-log µV) and ``good``, each ``(n_ch, n)`` → the floor
        with its warm-up NaNs filled by the trusted seed."""
        out = floor.copy()
        n = floor.shape[1]
        for ch in range(self._seed.size):
            own = np.flatnonzero(np.isfinite(floor[ch]))
            until = int(own[0]) if own.size else n  # the seed never outlives the own floor
            start = 0
            if self._state[ch] == self.PENDING:
                take = np.flatnonzero(good[ch, :until])[: self._check - len(self._seen[ch])]
                self._seen[ch] += log_env[ch, take].tolist()
                start = n
                if len(self._seen[ch]) >= self._check:
                    stat = float(np.quantile(self._seen[ch], self._q))
                    agree = abs(stat - self._seed[ch]) <= self._tol
                    self._state[ch] = self.TRUSTED if agree else self.REJECTED
                    start = int(take[-1]) + 1  # from the frame after the check
            if self._state[ch] == self.TRUSTED and start < until:
                out[ch, start:until] = self._seed[ch]
            if own.size:
                self._state[ch] = self.DONE
        return out


def band_rms_frames(emg: FloatArray, emg_rate_hz: float,
                    settings: DetectorSettings) -> tuple[FloatArray, np.ndarray]:
    """EMG-band RMS per frame as the pipeline measures it, and which frames are usable.

    ``emg``: ``(n_ch, n)`` µV at ``emg_rate_hz``; samples short of a whole frame are dropped.
    Returns ``rms (n_ch, n_frames)`` µV and ``good (n_ch, n_frames)`` (quality gate, no hold).
    Both mains families' bins are left out (the mains frequency is not known yet).
    """
    check_emg_rate(emg_rate_hz, settings)
    emg = np.asarray(emg, dtype=np.float64)
    frame_len = round(settings.frame_s * emg_rate_hz)
    n_ch = emg.shape[0]
    n = emg.shape[1] // frame_len
    frames = emg[:, : n * frame_len].reshape(n_ch, n, frame_len)
    plan = settings_bin_plan(settings, frame_len, emg_rate_hz)
    spectra = SpectralFeatures(plan, frame_len).compute(frames)
    band_pow, hum_pow = band_and_hum_power(spectra, plan, np.zeros(n))
    code = QualityGate(n_ch, settings_thresholds(settings, hold_frames=0)).classify(
        spectra, band_pow, hum_pow, 0)
    return np.sqrt(band_pow), code == GOOD


def calibrate(rest_emg: FloatArray, contraction_emg: FloatArray, emg_rate_hz: float,
              settings: DetectorSettings, *, calf: Sequence[bool] | None = None) -> Calibration:
    """Measure a calibration from a rest recording and a contraction recording.

    ``rest_emg``, ``contraction_emg``: ``(n_ch, n)`` µV. ``calf`` marks the calf channels (the
    default: all); at least one of them must pass the contraction check. The rest level is the
    rest floor's own statistic (``floor_block_quantile`` of the frame levels); the contraction
    level is the upper quartile of its frames (the phase may include the relaxed seconds around
    the contraction). Raises :class:`CalibrationError` with the reason.
    """
    s = settings
    if not math.isfinite(emg_rate_hz) or emg_rate_hz < s.min_emg_rate_hz:
        raise CalibrationError(f"EMG rate {emg_rate_hz} Hz is below the minimum "
                               f"{s.min_emg_rate_hz} Hz")
    rest_rms, rest_good = band_rms_frames(rest_emg, emg_rate_hz, s)
    con_rms, con_good = band_rms_frames(contraction_emg, emg_rate_hz, s)
    n_ch = rest_rms.shape[0]
    if con_rms.shape[0] != n_ch:
        raise CalibrationError(f"rest has {n_ch} EMG channels, the contraction "
                               f"{con_rms.shape[0]}")
    calf_mask = np.ones(n_ch, dtype=bool) if calf is None else np.asarray(calf, dtype=bool)
    rest_s = rest_rms.shape[1] * s.frame_s
    if rest_s < s.calibration_rest_s:
        raise CalibrationError(f"the rest part is {rest_s:g} s long; it needs at least "
                               f"{s.calibration_rest_s:g} s of the leg lying relaxed")
    if con_rms.shape[1] == 0:
        raise CalibrationError("the contraction part is shorter than one frame "
                               f"({s.frame_s:g} s)")
    rest_uv: list[float] = []
    con_uv: list[float] = []
    for ch in range(n_ch):
        good = rest_rms[ch][rest_good[ch]]
        if good.size < 0.8 * rest_rms.shape[1]:
            raise CalibrationError(
                f"channel {ch + 1}: only {100 * good.size / rest_rms.shape[1]:.0f} % of the rest "
                "part is usable signal (flat line, rail, hum or drift): check that the "
                "electrodes touch the skin")
        rest_uv.append(float(np.quantile(good, s.floor_block_quantile)))
        con = con_rms[ch][con_good[ch]]
        con_uv.append(float(np.quantile(con, 0.75)) if con.size else 0.0)
    result = Calibration(rest_uv=tuple(rest_uv),
                         contraction_uv=tuple(max(c, 1e-9) for c in con_uv))
    ratios = np.array(result.contraction_ratio)
    best = float(np.max(ratios[calf_mask])) if calf_mask.any() else 0.0
    if best < s.calibration_contraction_ratio:
        raise CalibrationError(
            f"the contraction raised the calf EMG only {best:.1f}× over rest (needs "
            f"{s.calibration_contraction_ratio:g}×): the electrode may not be over the calf "
            "muscle, or the contraction was too weak; move the wearable to the thickest part "
            "of the calf and press the ball of the foot down, moderately, for about 3 s")
    return result
