"""Shared array alias and the detector's output types (the contract other rooms rely on).

Arrays are ``(channels, samples)`` float64 in physical units: EMG in µV, acceleration in g.
Time is a sample index; seconds are ``index / rate_hz`` of the stream the index belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class EventKind(StrEnum):
    CRAMP_STARTED = "cramp_started"
    CRAMP_UPDATE = "cramp_update"
    CRAMP_ENDED = "cramp_ended"
    # a cramp recognised only after it was over (its level already below its end threshold):
    # logged with its real t_onset / t_end for the weekly count, never prompted
    CRAMP_RECORDED = "cramp_recorded"


class Quality(StrEnum):
    """Signal-quality state; anything but GOOD suppresses alarms."""

    GOOD = "good"
    NO_SIGNAL = "no_signal"  # nothing received yet, or inside a gap
    LEAD_OFF = "lead_off"  # flat line, rail saturation, DC steps
    HUM = "hum"  # mains hum dominates the EMG band
    NOISY = "noisy"  # drift / motion artefact too large to trust


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectorEvent:
    """One cramp event, in stream time (seconds since the session's first sample).

    ``cramp_number`` counts cramps from 1 within one pipeline; started/update/ended of the same
    cramp share it. ``intensity`` is the current (started/update) or mean (ended, recorded) EMG
    envelope as a multiple of the rest floor; ``peak_intensity`` the largest so far.
    ``cramp_recorded`` stands alone (no started/ended): a cramp recognised only once its level was
    already below its end threshold, with ``t_onset``, ``t_end`` and ``duration_s`` of the real
    cramp and ``t_detect`` when it was recognised.
    """

    kind: EventKind
    cramp_number: int
    t_onset: float
    t_detect: float
    t_end: float | None = None
    duration_s: float | None = None
    intensity: float
    peak_intensity: float
    t: float | None = None  # cramp_update only: stream time of the update (s)
    # cramp_update only: True as the level falls below the end threshold (a dip that may be the
    # end, decided end_hold_s later), False as it rises again (the dip was a lull); None: neither
    easing: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineStatus:
    """A snapshot for status lines and MQTT: where the pipeline is, in stream time."""

    t: float
    quality: Quality
    envelope_uv: float
    rest_floor_uv: float
    cramp_active: bool
    posture: str  # "lying" | "upright" | "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineStatistics:
    emg_samples: int
    accel_samples: int
    gaps: int
    gap_samples: int
    events: int
    cramps: int
    seconds_bad_quality: float
    bad_samples: int = 0  # non-finite input samples (their frames count as NO_SIGNAL)
    mains_hz: float = 0.0  # detected mains frequency, 0.0 while undecided
    # usable EMG without valid accelerometer data (a failed IMU, an EMG-only file): the
    # detector is "blind" there, movement and posture unknown (s)
    seconds_without_accel: float = 0.0
    # with a calibration: the night's own rest floor / the calibrated rest (calf channel that
    # differs most); 0.0 without one or before the night's floor exists
    floor_vs_calibration: float = 0.0


class CrampDetector(Protocol):
    """What replay, the daemon and the benchmarks drive. Every detector implements it.

    ``process`` takes the next EMG block ``(n_emg_channels, n)`` in µV and the next accelerometer
    block ``(3, m)`` in g; the two streams are aligned by absolute sample index (sample ``i`` of EMG
    is at ``i / emg_rate_hz`` s), not by block. Blocks of any size, including empty ones, give the
    same events as one whole block. ``gap`` declares samples that were lost (counts per stream);
    the pipeline advances its clock and never invents events from them.
    """

    def process(self, emg: FloatArray, accel: FloatArray) -> list[DetectorEvent]: ...

    def gap(self, emg_samples: int, accel_samples: int) -> list[DetectorEvent]: ...

    def finish(self) -> list[DetectorEvent]: ...

    def status(self) -> PipelineStatus: ...

    def statistics(self) -> PipelineStatistics: ...


def check_block(emg: FloatArray, accel: FloatArray, n_emg_channels: int) -> None:
    """Raise ``ValueError`` unless ``emg`` is ``(n_emg_channels, n)`` and ``accel`` ``(3, m)``:
    the block shapes of :meth:`CrampDetector.process`."""
    if emg.ndim != 2 or emg.shape[0] != n_emg_channels:
        raise ValueError(f"emg must have shape ({n_emg_channels}, n), got {emg.shape}")
    if accel.ndim != 2 or accel.shape[0] != 3:
        raise ValueError(f"accel must have shape (3, m), got {accel.shape}")


def check_gap(emg_samples: int, accel_samples: int) -> None:
    """Raise ``ValueError`` on a negative sample count given to :meth:`CrampDetector.gap`."""
    if emg_samples < 0 or accel_samples < 0:
        raise ValueError(f"gap sizes must be >= 0, got {emg_samples}, {accel_samples}")
