"""The production cramp detector: streaming, causal, block-size invariant, rate-generic.

Data flow per batch of complete frames (``frame_s`` of both streams, aligned by sample index)::

    Framer ─► SpectralFeatures ─► MainsDetector ─► band / hum power ─► QualityGate
                                                       │                   │
    accel ─► MotionFeatures (activity, tilt, posture)  ▼                   ▼
                                   log envelope ─► RestFloor ─► level = log(env / floor)
                                                                        │ (smoothed, best calf ch.)
    band halves (below 110 / above 140 Hz) ─► their RestFloors ─► excess share above ─┐
                                                                        ▼             ▼
                                                                 CrampMachine ─► events

(``calibration``, optional, seeds the rest floor while the night's own warms up.)

Everything up to the state machine is vectorised over frames and channels; the machine's Python
loop only visits elevated frames and frames inside a cramp. No I/O, no clock: time is
``frame index × frame_s``. Never imports ``firmware_bridge`` or ``bedside``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from detector.calibration import CalibratedStart, Calibration
from detector.floor import FLOOR_MIN_S, RestFloor, nan_quantile
from detector.framing import Framer, Frames
from detector.mains import MainsDetector, band_and_hum_power
from detector.motion import MOTION_TILT_DEG, MotionFeatures
from detector.quality import CODES, GOOD, QualityGate, settings_thresholds
from detector.rates import check_accel_rate, check_emg_rate
from detector.rules import (
    BLIND_CONFIRM_S,
    CANDIDATE_BAD_S,
    LOST_S,
    PLM_GAP_S,
    POST_CRAMP_TAU_S,
)
from detector.settings import DetectorSettings
from detector.spectrum import SpectralFeatures, settings_bin_plan
from detector.state_machine import CrampMachine, FrameInputs, MachineParams, State
from detector.types import (
    DetectorEvent,
    FloatArray,
    PipelineStatistics,
    PipelineStatus,
    Quality,
    check_block,
    check_gap,
)

# Hum risen far above the night's usual hum (setting hum_rise) marks a lifting electrode (quality
# HUM) only when the hum RMS is also above this (µV) [Mew04]. Moved no figure at ±50 %
# (BENCHMARKS.md, issue 15 sweep).
HUM_RISE_MIN_UV = 2.0
# The usual hum is tracked on the hum power averaged over this (s): a single frame's hum estimate
# is mostly clipped to 0 where hum is weak, and a quantile of those is 0, which made every hum
# above HUM_RISE_MIN_UV count as a rise (a cramp's onset included, its EMG leaking into the mains
# bins). Moved no figure at ±50 % (BENCHMARKS.md, issue 15 sweep).
HUM_AVERAGE_S = 5.0

SHIN_WORDS = ("shin", "tibialis", " ta")  # label words marking a tibialis-anterior channel


def is_shin_label(label: str) -> bool:
    """The channel label names a tibialis-anterior (shin) channel (:data:`SHIN_WORDS`)."""
    return any(w in f" {label.lower()}" for w in SHIN_WORDS)
_GAP_CHUNK_S = 60.0  # gaps are fed as NaN in chunks of this length: memory stays flat


def _frames(seconds: float, frame_s: float) -> int:
    return max(1, round(seconds / frame_s))


class Pipeline:
    """Implements :class:`detector.types.CrampDetector`.

    ``emg_labels`` (optional) name the channels; a label containing "shin" or "tibialis" marks a
    tibialis-anterior channel, used only to recognise leg movements (PLM), never to alarm.
    Without labels every channel is a calf channel.
    """

    def __init__(self, settings: DetectorSettings, *, emg_rate_hz: float, accel_rate_hz: float,
                 n_emg_channels: int, emg_labels: Sequence[str] | None = None,
                 calibration: Calibration | None = None) -> None:
        s = settings
        # Checked first, before anything is sized by a rate: frame length and FFT size grow with
        # it (a lying EDF header at "1e9 Hz" once asked the window design for gigabytes).
        check_emg_rate(emg_rate_hz, s)
        check_accel_rate(accel_rate_hz, s)
        if n_emg_channels < 1:
            raise ValueError(f"need at least one EMG channel, got {n_emg_channels}")
        labels = list(emg_labels) if emg_labels is not None else []
        if labels and len(labels) != n_emg_channels:
            raise ValueError(f"emg_labels has {len(labels)} names for {n_emg_channels} channels")
        if calibration is not None and len(calibration.rest_uv) != n_emg_channels:
            raise ValueError(f"the calibration has {len(calibration.rest_uv)} channels, the "
                             f"input {n_emg_channels}")
        self.calibration = calibration
        shin = (np.array([is_shin_label(lab) for lab in labels], dtype=bool) if labels
                else np.zeros(n_emg_channels, dtype=bool))
        if shin.all():
            shin[:] = False  # a lone shin channel is still the only EMG we have
        self._calf = ~shin
        self._shin = shin
        self.settings = s
        self.emg_rate_hz = float(emg_rate_hz)
        self.accel_rate_hz = float(accel_rate_hz)
        self.n_emg_channels = n_emg_channels
        self._frame_len = round(s.frame_s * emg_rate_hz)
        self.frame_s = self._frame_len / self.emg_rate_hz
        fs = self.frame_s
        self._framer = Framer(n_emg_channels=n_emg_channels, emg_frame_len=self._frame_len,
                              emg_rate_hz=emg_rate_hz, accel_rate_hz=accel_rate_hz)
        self._plan = settings_bin_plan(s, self._frame_len, emg_rate_hz)
        self._spectral = SpectralFeatures(self._plan, self._frame_len)
        self._mains = MainsDetector(self._plan, visible_ratio=s.mains_visible_ratio)
        self._quality = QualityGate(
            n_emg_channels, settings_thresholds(s, hold_frames=round(s.quality_hold_s / fs)))
        self._motion = MotionFeatures(shank_axis=s.shank_axis)
        block = _frames(s.floor_block_s, fs)

        def rest_floor() -> RestFloor:
            return RestFloor(
                n_channels=n_emg_channels, block_frames=block,
                history_blocks=max(1, round(s.floor_history_s / (block * fs))),
                block_quantile=s.floor_block_quantile, history_quantile=s.floor_history_quantile,
                min_blocks=max(1, math.ceil(FLOOR_MIN_S / (block * fs))))

        self._floor = rest_floor()
        self._calibrated_start = None if calibration is None else CalibratedStart(
            calibration, check_frames=_frames(s.calibration_check_s, fs),
            tolerance=s.calibration_seed_tolerance, quantile=s.floor_block_quantile)
        # rest floors of the two halves of the band, for the spectral shape of the excess
        self._shape_floors = [rest_floor(), rest_floor()]
        self._hum_base = RestFloor(
            n_channels=n_emg_channels, block_frames=block,
            history_blocks=max(1, round(s.hum_history_s / (block * fs))),
            block_quantile=0.5, history_quantile=0.25,
            min_blocks=max(1, math.ceil(FLOOR_MIN_S / (block * fs))))
        self._smooth = _frames(s.smooth_s, fs)
        self._measure = _frames(s.post_cramp_measure_s, fs)
        self._hum_avg = _frames(HUM_AVERAGE_S, fs)
        self._machine = CrampMachine(MachineParams(
            frame_s=fs,
            onset_log=math.log(s.onset_ratio),
            end_log_min=math.log(s.end_ratio_min),
            end_fraction=s.end_fraction,
            end_log_max=math.log(s.end_ratio_max),
            end_rebound_log=math.log(1.0 + s.end_rebound),
            pre_still_frames=_frames(s.pre_still_s, fs),
            confirm_frames=_frames(s.confirm_s, fs),
            confirm_margin_log=math.log(s.confirm_ratio / s.onset_ratio),
            after_motion_frames=round(s.after_motion_window_s / fs),
            after_motion_confirm_frames=_frames(s.after_motion_confirm_s, fs),
            plm_window_frames=_frames(s.plm_window_s, fs),
            plm_min_bursts=s.plm_min_bursts,
            plm_confirm_frames=_frames(s.plm_confirm_s, fs),
            candidate_bad_frames=_frames(CANDIDATE_BAD_S, fs),
            candidate_dip_frames=round(s.candidate_dip_s / fs),
            end_hold_frames=_frames(s.end_hold_s, fs),
            lost_frames=_frames(LOST_S, fs),
            update_frames=round(s.update_interval_s / fs),
            onset_lookback_frames=self._smooth,
            burst_max_frames=_frames(s.plm_burst_max_s, fs),
            burst_peak_log=math.log(s.plm_burst_peak_ratio),
            plm_gap_frames=_frames(PLM_GAP_S, fs),
            smooth_delay_s=(self._smooth - 1) * fs / 2,
            plateau_frames=2 * _frames(s.plateau_s / 2, fs),
            plateau_drop_log=math.log(1.0 + s.plateau_drop),
            plateau_margin_log=math.log(1.0 + s.plateau_margin),
            upright_end_frames=_frames(s.upright_end_s, fs),
            blind_confirm_frames=_frames(BLIND_CONFIRM_S, fs),
            post_base_log=math.log(s.post_cramp_ratio),
            post_tau_frames=POST_CRAMP_TAU_S / fs,
            flat_shape=s.flat_spectrum_ratio,
            over_fraction=s.over_candidate_fraction,
        ))
        self._reset_counters()

    # -- state ----------------------------------------------------------------------------------
    def _reset_counters(self) -> None:
        self._smooth_tail: FloatArray = np.full((self.n_emg_channels, self._smooth - 1), np.nan)
        self._hum_tail: FloatArray = np.full((self.n_emg_channels, self._hum_avg - 1), np.nan)
        self._measure_tail: FloatArray = np.full((1, self._measure - 1), np.nan)
        self._last_motion = -(10**9)
        self._emg_samples = 0
        self._accel_samples = 0
        self._bad_samples = 0
        self._gaps = 0
        self._gap_samples = 0
        self._events = 0
        self._bad_frames = 0
        self._blind_frames = 0
        self._status = PipelineStatus(t=0.0, quality=Quality.NO_SIGNAL, envelope_uv=0.0,
                                      rest_floor_uv=0.0, cramp_active=False, posture="unknown")

    # -- CrampDetector ------------------------------------------------------------------------
    def process(self, emg: FloatArray, accel: FloatArray) -> list[DetectorEvent]:
        """Feed ``emg (n_emg_channels, n)`` µV and ``accel (3, m)`` g (any n, m ≥ 0)."""
        emg = np.asarray(emg, dtype=np.float64)
        accel = np.asarray(accel, dtype=np.float64)
        check_block(emg, accel, self.n_emg_channels)
        self._emg_samples += emg.shape[1]
        self._accel_samples += accel.shape[1]
        bad = emg.size - int(np.count_nonzero(np.isfinite(emg)))
        bad += accel.size - int(np.count_nonzero(np.isfinite(accel)))
        self._bad_samples += bad  # non-finite samples make their frame NO_SIGNAL
        return self._run(self._framer.push(emg, accel))

    def gap(self, emg_samples: int, accel_samples: int) -> list[DetectorEvent]:
        """Declare lost samples: they are framed as missing (quality NO_SIGNAL), never as data."""
        check_gap(emg_samples, accel_samples)
        if emg_samples == 0 and accel_samples == 0:
            return []
        self._gaps += 1
        self._gap_samples += emg_samples
        events: list[DetectorEvent] = []
        ce = max(1, int(_GAP_CHUNK_S * self.emg_rate_hz))
        ca = max(1, int(_GAP_CHUNK_S * self.accel_rate_hz))
        re, ra = emg_samples, accel_samples
        while re > 0 or ra > 0:
            ne, na = min(re, ce), min(ra, ca)
            events += self._run(self._framer.push(np.full((self.n_emg_channels, ne), np.nan),
                                                  np.full((3, na), np.nan)))
            re -= ne
            ra -= na
        return events

    def finish(self) -> list[DetectorEvent]:
        """End of stream: close an open cramp. Samples short of a whole frame are dropped."""
        events = self._machine.finish(self._framer.next_frame)
        self._events += len(events)
        return events

    def status(self) -> PipelineStatus:
        return self._status

    def statistics(self) -> PipelineStatistics:
        return PipelineStatistics(
            emg_samples=self._emg_samples, accel_samples=self._accel_samples, gaps=self._gaps,
            gap_samples=self._gap_samples, events=self._events, cramps=self._machine.cramps,
            seconds_bad_quality=round(self._bad_frames * self.frame_s, 3),
            bad_samples=self._bad_samples, mains_hz=self._mains.decided_hz,
            seconds_without_accel=round(self._blind_frames * self.frame_s, 3),
            floor_vs_calibration=round(self._floor_vs_calibration(), 3))

    def _band_halves_excess(self, lower: FloatArray, upper: FloatArray,
                            ok: np.ndarray) -> tuple[FloatArray, FloatArray]:
        """Per-bin excess power over rest (µV² per bin) below and above the shape split, each
        ``(n_ch, n)``; while a half's floor is not known yet (the first ``FLOOR_MIN_S``, when
        only a calibration can make alarms possible) its whole power stands in: a candidate is
        at least twice rest, so the excess is most of it. Their ratio (above / below) is
        about 0.3 for surface EMG (Shwedyk PSD; per-frame shares above of 0.02-0.30 on the
        real clips, see ``flat_spectrum_ratio``) and 1.0 for white noise (a poor contact's
        thermal noise), whatever the shape of the rest floor."""
        out = []
        for floor, x in zip(self._shape_floors, (lower, upper), strict=True):
            f = floor.update(0.5 * np.log(np.maximum(x, 1e-24)), ok)
            out.append(x - np.where(np.isfinite(f), np.exp(2.0 * f), 0.0))
        return out[0], out[1]

    def _floor_vs_calibration(self) -> float:
        """The night's own rest floor / the calibrated rest, on the calf channel where they
        differ most (0.0 without a calibration or before the night's floor exists)."""
        if self.calibration is None:
            return 0.0
        log_ratio = self._floor.current - np.log(self.calibration.rest_uv)
        log_ratio = np.where(self._calf & np.isfinite(log_ratio), log_ratio, 0.0)
        return float(np.exp(log_ratio[np.argmax(np.abs(log_ratio))])) if log_ratio.any() else 0.0

    # -- internals ----------------------------------------------------------------------------
    def _run(self, fr: Frames) -> list[DetectorEvent]:
        n = fr.count
        if n == 0:
            return []
        s = self.settings
        spectra = self._spectral.compute(fr.emg)
        mains = self._mains.update(spectra, fr.first)
        band_pow, hum_pow = band_and_hum_power(spectra, self._plan, mains)
        # hum far above this night's usual hum (a lifting electrode) [Mew04]; the usual level is
        # tracked like the rest floor, over a longer history, on the hum power averaged over
        # HUM_AVERAGE_S (causal, NaN-aware): per-frame estimates are mostly clipped to 0
        log_hum = 0.5 * np.log(np.maximum(hum_pow, 1e-12))
        valid = np.broadcast_to(spectra.valid, hum_pow.shape)
        win, self._hum_tail = _causal_windows(self._hum_tail, np.where(valid, hum_pow, np.nan))
        count = np.count_nonzero(np.isfinite(win), axis=2)
        hum_mean = np.nansum(win, axis=2) / np.maximum(count, 1)
        log_hum_mean = 0.5 * np.log(np.maximum(hum_mean, 1e-12))
        # a flat or disconnected input has no hum at all: it says nothing about the usual hum
        hum_base = self._hum_base.update(log_hum_mean, (count > 0) & (hum_mean > 1e-6))
        rise = ((log_hum - hum_base > math.log(s.hum_rise))
                & (log_hum > math.log(HUM_RISE_MIN_UV))
                & (hum_pow > s.hum_rise_band_ratio**2 * band_pow))
        code = self._quality.classify(spectra, band_pow, hum_pow, fr.first, hum_rise=rise)
        ok = code == GOOD
        motion = self._motion.compute(fr.accel, fr.accel_bounds)
        log_env = 0.5 * np.log(np.maximum(band_pow, 1e-12))
        floor = self._floor.update(log_env, ok)
        if self._calibrated_start is not None:  # a calibrated floor while the night's warms up
            floor = self._calibrated_start.fill(floor, log_env, ok)
        raw = np.where(ok, log_env - floor, np.nan)  # NaN while the floor warms up
        # causal NaN-aware running lower quartile over self._smooth frames: a sustained discharge
        # passes, intermittent twitches (fasciculation [JAT21]) and single-frame spikes do not
        win, self._smooth_tail = _causal_windows(self._smooth_tail, raw)  # (n_ch, n, smooth)
        smooth = nan_quantile(win, s.smooth_quantile, 1)
        smooth = np.where(np.isfinite(raw), smooth, np.nan)
        calf_level = _nanmax(smooth[self._calf])
        calf_raw = _nanmax(raw[self._calf])
        # usable EMG alarms even where the accelerometer is missing or invalid ("blind"): an
        # EMG-only recording or a failed IMU must not silence the detector; the machine then
        # asks for a longer run (BLIND_CONFIRM_S), as its movement vetoes cannot see
        good = np.isfinite(calf_level)
        moving = motion.valid & ((motion.activity_g > s.motion_activity_g)
                                 | (motion.tilt_deg > MOTION_TILT_DEG))
        if self._shin.any():
            shin_level = _nanmax(smooth[self._shin])
            # a leg movement (PLM) drives tibialis anterior harder than the calf [PLMt]: louder
            # now (raw) as well as smoothed, since the smoothing lags a calf discharge's rise
            # (its crosstalk on the shin, smoothed the same, may cross the onset level first)
            moving |= (np.isfinite(shin_level) & (shin_level >= math.log(s.onset_ratio))
                       & ~(calf_level > shin_level) & ~(calf_raw > _nanmax(raw[self._shin])))
        upright = motion.valid & (motion.shank_g > s.upright_shank_g)
        idx = fr.first + np.arange(n)
        last_motion = np.maximum.accumulate(np.where(moving, idx, self._last_motion))
        last_motion = np.maximum(last_motion, self._last_motion)
        self._last_motion = int(last_motion[-1])
        level = np.where(good, calf_level, np.nan)
        # the spectral shape of the excess over rest, on the calf channel that gives the level
        ex_low, ex_up = self._band_halves_excess(spectra.lower_mean, spectra.upper_mean, ok)
        calf_smooth = np.where(np.isfinite(smooth[self._calf]), smooth[self._calf], -np.inf)
        best_ch = np.argmax(calf_smooth, axis=0)[None, :]
        low = np.take_along_axis(ex_low[self._calf], best_ch, axis=0)[0]
        up = np.take_along_axis(ex_up[self._calf], best_ch, axis=0)[0]
        # each frame's share of its excess above the split (white noise 0.5, EMG ~0.2):
        # averaged over a candidate, every frame counts alike, however loud
        total = low + up
        upper_share = np.where(total > 0.0, np.clip(up / np.where(total > 0.0, total, 1.0),
                                                     0.0, 1.0), np.nan)
        raw_level = np.where(good, calf_raw, np.nan)
        # the calf's level as it is now, to cap a post-cramp raise by the measured residual:
        # a causal median over post_cramp_measure_s (NaN with less than half of it usable)
        win, self._measure_tail = _causal_windows(self._measure_tail, raw_level[None, :])
        measured = nan_quantile(win, 0.5, max(1, self._measure // 2))[0]
        events = self._machine.run(FrameInputs(
            first=fr.first, good=good, upright=upright, moving=moving, level=level,
            raw_level=raw_level, last_motion=last_motion,
            blind=~motion.valid, upper_share=upper_share, measured_level=measured))
        self._events += len(events)
        # status and statistics
        frame_code = np.where(ok[self._calf].any(axis=0), GOOD, code[self._calf].min(axis=0))
        self._bad_frames += int(np.count_nonzero(frame_code != GOOD))
        self._blind_frames += int(np.count_nonzero(good & ~motion.valid))
        best = int(np.argmax(np.where(self._calf, log_env[:, -1], -np.inf)))  # log_env finite
        fl = float(self._floor.current[best])
        self._status = PipelineStatus(
            t=round((fr.first + n) * self.frame_s, 3),
            quality=CODES[int(frame_code[-1])],
            envelope_uv=round(float(np.exp(log_env[best, -1])), 3),
            rest_floor_uv=round(math.exp(fl), 3) if math.isfinite(fl) else 0.0,
            cramp_active=self._machine.state in (State.CRAMP, State.CRAMP_DIP),
            posture=("unknown" if not motion.valid[-1]
                     else "upright" if upright[-1] else "lying"),
        )
        return events


def _causal_windows(tail: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``x (n_ch, n)`` after the carried ``tail (n_ch, w - 1)`` of earlier frames → the windows
    ``(n_ch, n, w)`` ending at each frame of ``x`` (causal, block-size invariant) and the tail
    to carry into the next batch."""
    w = tail.shape[1] + 1
    ext = np.concatenate((tail, x), axis=1)
    return sliding_window_view(ext, w, axis=1), ext[:, ext.shape[1] - (w - 1):].copy()


def _nanmax(a: FloatArray) -> FloatArray:
    """Max over axis 0 ignoring NaN; NaN where every row is NaN. ``(k, n) -> (n,)``."""
    out: FloatArray = np.fmax.reduce(a, axis=0)
    return out
