"""Lying on the back or on the side, from the calf's accelerometer: a pure computation.

The wearable sits on the calf. Lying down, the shank is roughly horizontal, so gravity falls
across the shank's long axis (the detector's ``shank_axis``), and the leg's rotation *about* that
axis says which way the calf faces [physiology.md §2-3: back → side ≈ 90° about the shank axis]:

* toes up (lying on the back): gravity along the skin normal, into the mattress;
* on the side: gravity along the medio-lateral axis (the sign tells left from right side);
* face down: gravity along the skin normal the other way.

The roll angle is ``atan2(|lateral|, -normal · BACK_SIGN)``: 0° on the back, 90° on either side,
180° face down; the positions split at 45° and 135°. Axes follow the virtual wearable's mounting
(``firmware_bridge/simulation/render.py``: x along the shank, y lateral, z the skin normal reading
−1 g on the back); a wearable mounted otherwise needs other axes here.

What the calf cannot tell: it measures the *leg's* rotation, not the trunk's. A sleeper on the
back whose leg has fallen outward by more than 45° (the hip in external rotation, common) reads
as "side"; one on the side with the top leg rolled forward reads nearer "face down"; and legs
drawn up (knees bent) still read lying as long as the shank stays below the upright threshold.
So the split is the calf's position, a proxy for the sleeping position, not a measurement of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from detector.types import FloatArray

NORMAL_AXIS = 2  # the skin normal (z) on the virtual wearable's mounting
LATERAL_AXIS = 1  # medio-lateral (y)
BACK_SIGN = -1.0  # lying on the back the normal axis reads −1 g (render.py: -cos(roll))
SIDE_FROM_DEG = 45.0  # halfway between back (0°) and side (90°)
FRONT_FROM_DEG = 135.0  # halfway between side (90°) and face down (180°)
MIN_GRAVITY_G = 0.2  # a resting IMU reads ~1 g; far less is no data (as detector/motion.py)
POSITIONS = ("back", "side", "front", "upright", "unknown")


@dataclass(frozen=True, slots=True)
class LyingSplit:
    """Seconds in each position (``back``, ``side``, ``front`` lying; ``upright``; ``unknown``)."""

    back_s: float = 0.0
    side_s: float = 0.0
    front_s: float = 0.0
    upright_s: float = 0.0
    unknown_s: float = 0.0

    @property
    def lying_s(self) -> float:
        return self.back_s + self.side_s + self.front_s

    def share(self, position: str) -> float:
        """Fraction 0–1 of the *lying* time spent in ``back``, ``side`` or ``front``."""
        seconds: float = getattr(self, f"{position}_s")
        return seconds / self.lying_s if self.lying_s > 0 else math.nan

    def text(self) -> str:
        """``62% on the back, 35% on the side, 3% face down`` (of the lying time)."""
        if self.lying_s <= 0:
            return "no lying time with accelerometer data"
        parts = [f"{self.share('back'):.0%} on the back", f"{self.share('side'):.0%} on the side"]
        if self.front_s > 0:
            parts.append(f"{self.share('front'):.0%} face down")
        return ", ".join(parts)


def lying_roll_deg(gravity: FloatArray) -> FloatArray:
    """Roll about the shank (°, 0 back … 90 side … 180 face down) of ``gravity (3, n)`` in g;
    NaN where the vector is too short to be gravity or not finite."""
    g = np.asarray(gravity, dtype=np.float64)
    if g.ndim != 2 or g.shape[0] != 3:
        raise ValueError(f"gravity must be (3, n) in g, got {g.shape}")
    norm = np.sqrt((g**2).sum(axis=0))
    roll = np.degrees(np.arctan2(np.abs(g[LATERAL_AXIS]), BACK_SIGN * g[NORMAL_AXIS]))
    ok = np.isfinite(norm) & (norm >= MIN_GRAVITY_G)
    out: FloatArray = np.where(ok, roll, np.nan)
    return out


def positions(gravity: FloatArray, posture: Sequence[str]) -> list[str]:
    """Per sample: ``back``/``side``/``front`` where the detector said ``lying``, else its
    ``upright`` or ``unknown``; ``gravity (3, n)`` g, ``posture`` n detector posture strings."""
    roll = lying_roll_deg(gravity)
    if len(posture) != roll.shape[0]:
        raise ValueError(f"posture has {len(posture)} samples, gravity {roll.shape[0]}")
    out = []
    for r, p in zip(roll, posture, strict=True):
        if p != "lying":
            out.append("upright" if p == "upright" else "unknown")
        elif not np.isfinite(r):
            out.append("unknown")
        else:
            out.append("back" if r < SIDE_FROM_DEG else "side" if r < FRONT_FROM_DEG else "front")
    return out


def lying_split(gravity: FloatArray, posture: Sequence[str], *, sample_s: float) -> LyingSplit:
    """Seconds per position over samples of ``sample_s`` s each (see :func:`positions`)."""
    counts = dict.fromkeys(POSITIONS, 0)
    for position in positions(gravity, posture):
        counts[position] += 1
    return LyingSplit(**{f"{k}_s": v * sample_s for k, v in counts.items()})
