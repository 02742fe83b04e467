"""Who is sleeping: the per-subject parameters of a simulated night.

Every range below is swept, never fixed (physiology.md §6 "Variability to survive"); each
constant names its source key from ``shared/notes/physiology.md``. Pure numpy; this module
imports neither ``bedside`` nor ``detector``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# --- ranges (physiology.md) -------------------------------------------------------------------
NOISE_FLOOR_UV = (1.0, 7.0)  # §6: rest noise floor 1–7 µV RMS, worse with poor contact (computed)
AMPLITUDE_SCALE = (0.3, 3.3)  # §6: ≥ 10× between people (UCI median 1-s RMS 98.6 vs 4.1 µV)
SHWEDYK_F_LOW_HZ = (50.0, 68.0)  # §6 [Shw77]: usually f_l ≈ 60 Hz; swept so that the
SHWEDYK_F_HIGH_HZ = (100.0, 130.0)  # median frequency spans 77–104 Hz (§3, computed)
MAINS_HZ = (50.0, 60.0)  # §6 [Mew04]: 50 vs 60 Hz
MAINS_DEVIATION_HZ = 0.5  # §6 [Mew04]: ±0.5 Hz
HUM_UV = (0.3, 4.0)  # §2 [Mew04]: largest extraneous noise; steady level chosen near the floor
EMG_RATES_HZ = (500.0, 1000.0, 1000.0, 1000.0, 2000.0)  # §3: ≥ 1 kHz usual [SPC, Gan17], 500 [AASM]
ACCEL_RATES_HZ = (50.0, 64.0, 100.0)  # §3: wearables 25 Hz [OSD] to 100 Hz (pearl)
EMG_RATE_LIMITS_HZ = (200.0, 4000.0)  # §6: 200 Hz [Myo] to 4 kHz (emgdb)
ACCEL_RATE_LIMITS_HZ = (25.0, 200.0)  # §3: 25 Hz [OSD] .. 100 Hz (pearl); forced up to 200
ECG_UV = (3.0, 30.0)  # §2 [BM16]: QRS crosstalk on the calf; size **unconfirmed**
ECG_FRACTION = 0.4  # share of subjects whose calf channel shows QRS spikes (unconfirmed)
HEART_RATE_BPM = (50.0, 75.0)  # §2: "QRS spikes ~1 Hz" (task brief); resting adult sleep range
ACCEL_NOISE_G = (0.002, 0.006)  # §3 [ADXL]: MEMS sensor noise, a few mg
SECOND_CHANNELS = ("EMG calf lateral", "EMG shin")  # §1 [KB07] other head; §2 TA scores PLM


@dataclass(frozen=True, slots=True, kw_only=True)
class Subject:
    """Parameters of one simulated sleeper and their wearable (units in the names)."""

    leg: str
    emg_rate_hz: float
    accel_rate_hz: float
    emg_labels: tuple[str, ...]
    noise_floor_uv: float
    amplitude_scale: float
    shwedyk_f_low_hz: float
    shwedyk_f_high_hz: float
    mains_hz: float
    mains_offset_hz: float
    mains_wobble_hz: float
    mains_wobble_period_s: float
    hum_uv: float
    hum_harmonics: tuple[float, ...]
    ecg_uv: float
    heart_rate_bpm: float
    accel_noise_g: float
    shin_crosstalk: float
    lateral_cramp_gain: float

    def as_truth(self) -> dict[str, Any]:
        """JSON-able dict for the truth file's ``subject`` entry."""
        d = asdict(self)
        d["emg_labels"] = list(self.emg_labels)
        d["hum_harmonics"] = list(self.hum_harmonics)
        return d


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def check_rate(value: float, limits: tuple[float, float], what: str) -> float:
    """Validate a forced sampling rate: inside ``limits`` and a whole number of Hz (EDF records)."""
    if not limits[0] <= value <= limits[1]:
        raise ValueError(f"{what} must lie in {limits[0]:g}..{limits[1]:g} Hz, got {value:g}")
    if value != round(value):
        raise ValueError(f"{what} must be a whole number of Hz (1-s EDF records), got {value:g}")
    return float(value)


def draw_subject(
    rng: np.random.Generator, *, emg_rate_hz: float | None, accel_rate_hz: float | None
) -> Subject:
    """Draw one subject; a forced rate replaces the drawn one (validated by :func:`check_rate`)."""
    leg = "left" if rng.random() < 0.5 else "right"
    emg_rate = float(rng.choice(EMG_RATES_HZ))
    accel_rate = float(rng.choice(ACCEL_RATES_HZ))
    if emg_rate_hz is not None:
        emg_rate = check_rate(emg_rate_hz, EMG_RATE_LIMITS_HZ, "EMG rate")
    if accel_rate_hz is not None:
        accel_rate = check_rate(accel_rate_hz, ACCEL_RATE_LIMITS_HZ, "accelerometer rate")
    labels: tuple[str, ...] = ("EMG calf",)
    if rng.random() < 0.4:
        labels = (*labels, str(rng.choice(SECOND_CHANNELS)))
    mains = float(rng.choice(MAINS_HZ))
    offset = float(rng.uniform(-0.3, 0.3))
    wobble = float(rng.uniform(0.0, MAINS_DEVIATION_HZ - abs(offset)))  # stays within ±0.5 Hz
    # Harmonics 2..5 relative to the fundamental: odd ones stronger (rectifier loads) [Mew04].
    harmonics = (
        float(rng.uniform(0.05, 0.3)),
        float(rng.uniform(0.2, 0.7)),
        float(rng.uniform(0.02, 0.15)),
        float(rng.uniform(0.05, 0.4)),
    )
    return Subject(
        leg=leg,
        emg_rate_hz=emg_rate,
        accel_rate_hz=accel_rate,
        emg_labels=labels,
        noise_floor_uv=_log_uniform(rng, *NOISE_FLOOR_UV),
        amplitude_scale=_log_uniform(rng, *AMPLITUDE_SCALE),
        shwedyk_f_low_hz=float(rng.uniform(*SHWEDYK_F_LOW_HZ)),
        shwedyk_f_high_hz=float(rng.uniform(*SHWEDYK_F_HIGH_HZ)),
        mains_hz=mains,
        mains_offset_hz=offset,
        mains_wobble_hz=wobble,
        mains_wobble_period_s=float(rng.uniform(300.0, 3600.0)),
        hum_uv=_log_uniform(rng, *HUM_UV),
        hum_harmonics=harmonics,
        ecg_uv=_log_uniform(rng, *ECG_UV) if rng.random() < ECG_FRACTION else 0.0,
        heart_rate_bpm=float(rng.uniform(*HEART_RATE_BPM)),
        accel_noise_g=float(rng.uniform(*ACCEL_NOISE_G)),
        # Co-activation / crosstalk between the calf and a second site: **unconfirmed** (§2).
        shin_crosstalk=float(rng.uniform(0.05, 0.3)),
        # A second calf electrode may sit over the silent head [KB07]: its share of the cramp.
        lateral_cramp_gain=float(rng.uniform(0.0, 1.0)),
    )
