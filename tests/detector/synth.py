"""Small synthetic nights for detector tests (independent of the product simulator).

EMG = Gaussian noise with a surface-EMG spectrum (Shwedyk PSD, f_l 60 Hz, f_h 120 Hz
[physiology.md §6]) × envelope (µV RMS) + mains hum, plus optional white noise bursts (a poor
contact's thermal noise); accelerometer = gravity for a
posture (shank along x: lying ≈ 0 g on x) + sensor noise + optional movement. Everything is
generated at the requested rates from a seeded generator; times in seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

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
    # white noise (contact noise): start, end, total RMS as a multiple of the floor
    contact_noise: list[tuple[float, float, float]] = field(default_factory=list)
    upright: list[tuple[float, float]] = field(default_factory=list)
    tilts: list[tuple[float, float, float]] = field(default_factory=list)  # start, end, degrees
    seed: int = 1


def render(night: Night, emg_rate_hz: float = 1000.0,
           accel_rate_hz: float = 50.0) -> tuple[FloatArray, FloatArray]:
    """Return ``emg (1, n)`` µV and ``accel (3, m)`` g."""
    rng = np.random.default_rng(night.seed)
    n = round(night.seconds * emg_rate_hz)
    t = np.arange(n) / emg_rate_hz
    base = shwedyk_noise(rng, n, emg_rate_hz)
    env = np.ones(n)
    for a, b, ratio in night.bursts:
        sel = (t >= a) & (t < b)
        env[sel] = np.sqrt(np.maximum(ratio**2 - 1.0, 0.0) + 1.0)
    emg = night.floor_uv * env * base
    for a, b, ratio in night.contact_noise:
        sel = (t >= a) & (t < b)
        emg[sel] += night.floor_uv * math.sqrt(max(ratio**2 - 1.0, 0.0)) * rng.standard_normal(
            int(sel.sum()))
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


def shwedyk_noise(rng: np.random.Generator, n: int, rate_hz: float, f_low: float = 60.0,
                  f_high: float = 120.0) -> FloatArray:
    """Unit-RMS Gaussian noise with the Shwedyk surface-EMG PSD
    P(f) ∝ f_h⁴ f² / ((f² + f_l²)(f² + f_h²)²), shaped in the frequency domain."""
    f = np.fft.rfftfreq(n, 1.0 / rate_hz)
    psd = f_high**4 * f**2 / ((f**2 + f_low**2) * (f**2 + f_high**2) ** 2)
    x = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) * np.sqrt(psd), n)
    out: FloatArray = x / np.std(x)
    return out


def blocks(x: FloatArray, cuts: list[int]) -> list[FloatArray]:
    """Split ``x`` along the last axis at the sorted ``cuts`` (empty blocks allowed)."""
    return np.split(x, sorted(min(c, x.shape[-1]) for c in cuts), axis=-1)
