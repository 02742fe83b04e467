"""Small synthetic nights for detector tests (independent of the product simulator).

EMG = band-limited Gaussian noise × envelope (µV RMS) + mains hum; accelerometer = gravity for a
posture (shank along x: lying ≈ 0 g on x) + sensor noise + optional movement. Everything is
generated at the requested rates from a seeded generator; times in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from detector.types import FloatArray


@dataclass
class Night:
    """Pieces of a synthetic night. ``env`` (s -> multiple of floor) is piecewise constant."""

    seconds: float
    floor_uv: float = 2.0
    mains_hz: float = 50.0
    hum_uv: float = 1.0
    bursts: list[tuple[float, float, float]] = field(default_factory=list)  # start, end, ratio
    moves: list[tuple[float, float, float]] = field(default_factory=list)  # start, end, g RMS
    upright: list[tuple[float, float]] = field(default_factory=list)
    tilts: list[tuple[float, float, float]] = field(default_factory=list)  # start, end, degrees
    seed: int = 1


def render(night: Night, emg_rate_hz: float = 1000.0,
           accel_rate_hz: float = 50.0) -> tuple[FloatArray, FloatArray]:
    """Return ``emg (1, n)`` µV and ``accel (3, m)`` g."""
    rng = np.random.default_rng(night.seed)
    n = round(night.seconds * emg_rate_hz)
    t = np.arange(n) / emg_rate_hz
    # EMG-like noise: 20-250 Hz band (calf median frequency 77-104 Hz)
    sos = signal.butter(2, [20.0, min(250.0, 0.45 * emg_rate_hz)], "bandpass", fs=emg_rate_hz,
                        output="sos")
    base = signal.sosfilt(sos, rng.standard_normal(n))
    base /= np.std(base)
    env = np.ones(n)
    for a, b, ratio in night.bursts:
        sel = (t >= a) & (t < b)
        env[sel] = np.sqrt(np.maximum(ratio**2 - 1.0, 0.0) + 1.0)
    emg = night.floor_uv * env * base
    for h in (1, 2, 3, 4):
        emg += night.hum_uv / h * np.sqrt(2) * np.sin(2 * np.pi * h * night.mains_hz * t + h)
    m = round(night.seconds * accel_rate_hz)
    ta = np.arange(m) / accel_rate_hz
    elev = np.zeros(m)
    for a, b in night.upright:
        elev[(ta >= a) & (ta < b)] = 85.0
    roll = np.zeros(m)
    for a, b, deg in night.tilts:
        sel = (ta >= a) & (ta < b)
        elev[sel] += deg
        roll[ta >= b] += 0.0
    e, r = np.radians(elev), np.radians(roll)
    acc = np.vstack([np.sin(e), np.cos(e) * np.sin(r), -np.cos(e) * np.cos(r)])
    acc += 0.003 * rng.standard_normal((3, m))
    for a, b, g in night.moves:
        sel = (ta >= a) & (ta < b)
        acc[:, sel] += g * rng.standard_normal((3, int(sel.sum())))
    return emg[None, :], acc


def blocks(x: FloatArray, cuts: list[int]) -> list[FloatArray]:
    """Split ``x`` along the last axis at the sorted ``cuts`` (empty blocks allowed)."""
    return np.split(x, sorted(min(c, x.shape[-1]) for c in cuts), axis=-1)
