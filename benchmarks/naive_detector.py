"""The naive reference detector: band-pass, RMS, fixed multiple of a start-of-night floor.

This is the strawman issue 2 asks for, so the benchmark has a floor to beat on quality: it knows
nothing of posture, movement, hum, lead-off or PLM series, and it does badly on false alarms
(that is the point of the corpus). It implements :class:`detector.types.CrampDetector` and
streams: causal IIR with carried state, RMS windows on the absolute sample index, so any block
split gives the same events as one whole block.

Algorithm (per EMG sample rate ``fs``):

1. Butterworth band-pass ``band_low_hz``–``band_high_hz`` (4th order, second-order sections).
2. Mean square over all channels in non-overlapping ``window_s`` windows; RMS in µV.
3. The rest floor is the median RMS of the first ``calibration_s`` of the night; no alarms
   before it is known.
4. ``cramp_started`` once the RMS stays above ``threshold_factor × floor`` for ``hold_on_s``;
   ``t_onset`` is the start of the first window above, ``t_detect`` the end of the window that
   completes the hold. ``cramp_ended`` once it stays below for ``hold_off_s``; ``t_end`` is the
   start of the first window below.

The accelerometer is counted and otherwise ignored. A gap drops the partial window and restarts
the filter from zero state (the samples on both sides do not belong to one signal).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from detector.types import (
    DetectorEvent,
    EventKind,
    FloatArray,
    PipelineStatistics,
    PipelineStatus,
    Quality,
    check_block,
    check_gap,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class NaiveSettings:
    """Knobs of the naive detector; the defaults are the ones BENCHMARKS.md reports."""

    band_low_hz: float = field(
        default=20.0,
        metadata={
            # physiology.md §3: LibEMG default 20–450 Hz; SENIAM high-pass 10–20 Hz
            "doc": "Band-pass lower corner (Hz).",
            "min": 1.0,
            "max": 100.0,
        },
    )
    band_high_hz: float = field(
        default=450.0,
        metadata={
            "doc": "Band-pass upper corner (Hz); lowered to 0.45 × fs below 1 kHz sampling.",
            "min": 100.0,
            "max": 1000.0,
        },
    )
    filter_order: int = field(
        default=4, metadata={"doc": "Butterworth band-pass order.", "min": 2, "max": 8}
    )
    window_s: float = field(
        default=0.25, metadata={"doc": "RMS window length (s).", "min": 0.05, "max": 2.0}
    )
    calibration_s: float = field(
        default=60.0,
        metadata={
            "doc": "Start-of-night span whose median RMS is the floor (s).",
            "min": 5.0,
            "max": 600.0,
        },
    )
    threshold_factor: float = field(
        default=3.0,
        metadata={
            # physiology.md §1: cramp tension rose 100–500 % over baseline [CS], i.e. 2–6×
            "doc": "Alarm when RMS exceeds this multiple of the floor.",
            "min": 1.1,
            "max": 100.0,
        },
    )
    hold_on_s: float = field(
        default=3.0,
        metadata={
            # physiology.md §2: a PLM lasts 0.5–10 s; a hold of a few seconds skips the shortest
            "doc": "RMS must stay above the threshold this long to start a cramp (s).",
            "min": 0.0,
            "max": 60.0,
        },
    )
    hold_off_s: float = field(
        default=3.0,
        metadata={
            "doc": "RMS must stay below the threshold this long to end it (s).",
            "min": 0.0,
            "max": 60.0,
        },
    )
    min_floor_uv: float = field(
        default=0.1,
        metadata={
            "doc": "Lower bound on the floor (µV), so a flat start cannot make it zero.",
            "min": 0.001,
            "max": 10.0,
        },
    )


class NaiveDetector:
    """Band-pass + RMS + fixed threshold; implements :class:`detector.types.CrampDetector`.

    ``process(emg (n_emg_channels, n) µV, accel (3, m) g)``; events carry stream time in s.
    """

    def __init__(
        self,
        settings: object = None,
        *,
        emg_rate_hz: float,
        accel_rate_hz: float,
        n_emg_channels: int,
    ) -> None:
        # Anything but NaiveSettings means defaults: `crampwatch replay --detector
        # benchmarks.naive_detector:NaiveDetector` passes the pipeline's DetectorSettings here.
        self._cfg = settings if isinstance(settings, NaiveSettings) else NaiveSettings()
        if emg_rate_hz <= 2 * self._cfg.band_low_hz:
            raise ValueError(f"emg_rate_hz must exceed {2 * self._cfg.band_low_hz} Hz")
        if accel_rate_hz <= 0 or n_emg_channels < 1:
            raise ValueError("accel_rate_hz must be > 0 and n_emg_channels >= 1")
        self._fs = emg_rate_hz
        self._accel_fs = accel_rate_hz
        self._n_ch = n_emg_channels
        high = min(self._cfg.band_high_hz, 0.45 * emg_rate_hz)
        self._sos = signal.butter(
            self._cfg.filter_order,
            [self._cfg.band_low_hz, high],
            "bandpass",
            fs=emg_rate_hz,
            output="sos",
        )
        self._zi = np.zeros((self._sos.shape[0], n_emg_channels, 2))
        self._win = max(1, round(self._cfg.window_s * emg_rate_hz))  # samples per RMS window
        self._n_cal = max(1, round(self._cfg.calibration_s / self._cfg.window_s))
        self._n_on = max(1, round(self._cfg.hold_on_s / self._cfg.window_s))
        self._n_off = max(1, round(self._cfg.hold_off_s / self._cfg.window_s))
        self._buf = np.zeros(0)  # mean-square samples of the current partial window
        self._skip = 0  # samples to drop after a gap, up to the next window boundary
        self._emg_index = 0  # absolute index of the next EMG sample
        self._accel_index = 0
        self._cal: list[float] = []
        self._floor: float | None = None
        self._rms = 0.0
        self._active = False
        self._run = 0  # consecutive windows on the other side of the threshold
        self._run_start = 0  # window index where that run began
        self._sum_ratio = 0.0
        self._n_ratio = 0
        self._peak = 0.0
        self._onset_window = 0
        self._cramps = 0
        self._events = 0
        self._gaps = 0
        self._gap_samples = 0

    # -- CrampDetector ---------------------------------------------------------------------------
    def process(self, emg: FloatArray, accel: FloatArray) -> list[DetectorEvent]:
        check_block(emg, accel, self._n_ch)
        self._accel_index += accel.shape[1]
        n = emg.shape[1]
        if n == 0:  # scipy's sosfilt raises ValueError on an empty block
            return []
        y, self._zi = signal.sosfilt(self._sos, emg, axis=-1, zi=self._zi)
        power = np.mean(y * y, axis=0)
        start_index = self._emg_index
        self._emg_index += n
        if self._skip:
            drop = min(self._skip, n)
            power, self._skip, start_index = power[drop:], self._skip - drop, start_index + drop
        buf = np.concatenate((self._buf, power))
        n_full = buf.size // self._win
        rms = np.sqrt(buf[: n_full * self._win].reshape(n_full, self._win).mean(axis=1))
        self._buf = buf[n_full * self._win :]
        first_window = (start_index - (buf.size - power.size)) // self._win
        events: list[DetectorEvent] = []
        for k, value in enumerate(rms.tolist()):
            events.extend(self._step(first_window + k, value))
        self._events += len(events)
        return events

    def gap(self, emg_samples: int, accel_samples: int) -> list[DetectorEvent]:
        check_gap(emg_samples, accel_samples)
        if emg_samples == 0 and accel_samples == 0:
            return []
        self._gaps += 1
        self._gap_samples += emg_samples
        self._emg_index += emg_samples
        self._accel_index += accel_samples
        self._buf = np.zeros(0)
        self._zi = np.zeros_like(self._zi)
        self._skip = (-self._emg_index) % self._win
        return []

    def finish(self) -> list[DetectorEvent]:
        """End a cramp still running at the end of the stream (``t_end`` = last sample)."""
        if not self._active:
            return []
        self._active = False
        self._events += 1
        return [self._ended(self._emg_index / self._fs)]

    def status(self) -> PipelineStatus:
        return PipelineStatus(
            t=self._emg_index / self._fs,
            quality=Quality.GOOD if self._floor is not None else Quality.NO_SIGNAL,
            envelope_uv=self._rms,
            rest_floor_uv=self._floor or 0.0,
            cramp_active=self._active,
            posture="unknown",
        )

    def statistics(self) -> PipelineStatistics:
        return PipelineStatistics(
            emg_samples=self._emg_index - self._gap_samples,
            accel_samples=self._accel_index,
            gaps=self._gaps,
            gap_samples=self._gap_samples,
            events=self._events,
            cramps=self._cramps,
            seconds_bad_quality=0.0,
        )

    # -- the threshold state machine --------------------------------------------------------------
    def _t(self, window: int) -> float:
        return window * self._win / self._fs

    def _step(self, window: int, rms: float) -> list[DetectorEvent]:
        self._rms = rms
        if self._floor is None:
            self._cal.append(rms)
            if len(self._cal) >= self._n_cal:
                self._floor = max(float(np.median(self._cal)), self._cfg.min_floor_uv)
            return []
        ratio = rms / self._floor
        above = ratio > self._cfg.threshold_factor
        if self._active:
            self._sum_ratio += ratio
            self._n_ratio += 1
            self._peak = max(self._peak, ratio)
        if above != self._active:
            if self._run == 0:
                self._run_start = window
            self._run += 1
        else:
            self._run = 0
        if not self._active and self._run >= self._n_on:
            self._active, self._run = True, 0
            self._cramps += 1
            self._onset_window = self._run_start
            self._sum_ratio, self._n_ratio, self._peak = ratio, 1, ratio
            return [
                DetectorEvent(
                    kind=EventKind.CRAMP_STARTED,
                    cramp_number=self._cramps,
                    t_onset=self._t(self._run_start),
                    t_detect=self._t(window + 1),
                    intensity=ratio,
                    peak_intensity=ratio,
                )
            ]
        if self._active and self._run >= self._n_off:
            self._active, self._run = False, 0
            return [self._ended(self._t(self._run_start), detect=self._t(window + 1))]
        return []

    def _ended(self, t_end: float, detect: float | None = None) -> DetectorEvent:
        t_onset = self._t(self._onset_window)
        return DetectorEvent(
            kind=EventKind.CRAMP_ENDED,
            cramp_number=self._cramps,
            t_onset=t_onset,
            t_detect=t_end if detect is None else detect,
            t_end=t_end,
            duration_s=t_end - t_onset,
            intensity=self._sum_ratio / max(1, self._n_ratio),
            peak_intensity=self._peak,
        )
