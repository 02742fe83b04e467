"""The sample rates the detector accepts, checked before anything is sized by a rate.

Frame length and FFT size grow with the EMG rate: a lying EDF header (record duration 1 µs,
EMG "at 1e9 Hz") once made the window design ask for gigabytes and hang (issue #16). Every
entry point that takes a rate (``Pipeline``, ``calibration.band_rms_frames``) calls these first.
"""

from __future__ import annotations

from detector.settings import DetectorSettings

# The documented input range (README "Detector": EMG 500-4000 Hz; the lower edge is the setting
# min_emg_rate_hz, 400 Hz by default). Above 4 kHz nothing is gained: the EMG band ends at
# 230 Hz (settings.emg_band_high_hz), and surface EMG is low-passed at ~500 Hz (SENIAM, ISEK
# 5-500 Hz [KAAP], shared/notes/physiology.md).
MAX_EMG_RATE_HZ = 4000.0
# MEMS accelerometers sample at most 3200 Hz (ADXL345 datasheet, ODR table [ADXL],
# shared/notes/physiology.md). The lower edge is 4 samples per feature frame (8 Hz at the
# default frame_s = 0.5 s): MotionFeatures needs a few samples per frame for activity and tilt.
MAX_ACCEL_RATE_HZ = 3200.0
MIN_ACCEL_SAMPLES_PER_FRAME = 4


def check_emg_rate(rate_hz: float, settings: DetectorSettings) -> None:
    """ValueError naming the range unless ``min_emg_rate_hz <= rate_hz <= MAX_EMG_RATE_HZ``."""
    _check("EMG rate", rate_hz, settings.min_emg_rate_hz, MAX_EMG_RATE_HZ)


def check_accel_rate(rate_hz: float, settings: DetectorSettings) -> None:
    """ValueError naming the range unless 4 samples per frame ``<= rate_hz <= 3200`` Hz."""
    _check("accelerometer rate", rate_hz, MIN_ACCEL_SAMPLES_PER_FRAME / settings.frame_s,
           MAX_ACCEL_RATE_HZ)


def _check(what: str, rate_hz: float, low_hz: float, high_hz: float) -> None:
    if not low_hz <= rate_hz <= high_hz:  # also false for NaN
        raise ValueError(
            f"{what} {rate_hz:g} Hz is outside the supported range {low_hz:g}-{high_hz:g} Hz")
