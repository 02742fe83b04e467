"""Accelerometer features per frame: movement, tilt change and posture.

Per frame (the accelerometer samples sharing the EMG frame's stream time, see ``framing``):

* ``gravity`` — the mean vector (g); a shank IMU at rest reads gravity only.
* ``activity_g`` — RMS of the samples around that mean (g): any movement, heel strikes, shaking.
* ``tilt_deg`` — angle between this frame's mean vector and the previous frame's (degrees): slow
  rotations (turning over rotates gravity ≈ 90° about the shank [IRL21]; a toes-pointed stretch
  gives a small tilt).
* ``upright`` — gravity along the shank axis above ``cos(upright_angle)``: lying ≈ 0 g along the
  shank, standing *and* sitting on the bed edge ≈ 1 g [physiology.md §3, aPAL].

Stateful only through the previous frame's gravity vector; no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.types import FloatArray

# Tilt between consecutive frames (degrees) above this = movement (with the setting
# motion_activity_g, the pipeline's movement test): turning over rotates gravity ≈ 90° about the
# shank [IRL21], a toes-pointed stretch a little. Not a setting: it moved no figure of the pooled
# nights at 0.5× and 1.5× (issue 15, BENCHMARKS.md).
MOTION_TILT_DEG = 0.7


@dataclass(frozen=True, slots=True)
class MotionFrames:
    """Each field ``(n_frames,)``; ``valid`` is False where a sample was missing or none fell."""

    activity_g: FloatArray
    tilt_deg: FloatArray
    shank_g: FloatArray  # |gravity component along the shank axis| / |gravity|
    valid: np.ndarray


class MotionFeatures:
    def __init__(self, *, shank_axis: int) -> None:
        if shank_axis not in (0, 1, 2):
            raise ValueError(f"shank_axis must be 0, 1 or 2, got {shank_axis}")
        self._axis = shank_axis
        self.reset()

    def reset(self) -> None:
        self._prev: FloatArray | None = None  # unit gravity vector of the last valid frame

    def compute(self, accel: FloatArray, bounds: np.ndarray) -> MotionFrames:
        """``accel (3, m)`` g with frame offsets ``bounds (n_frames + 1,)``."""
        n = len(bounds) - 1
        if n <= 0:
            empty = np.zeros(0)
            return MotionFrames(empty, empty, empty, np.zeros(0, dtype=bool))
        starts = bounds[:-1]
        counts = np.diff(bounds).astype(np.float64)
        has = counts > 0
        finite = np.isfinite(accel).all(axis=0)
        if accel.shape[1]:
            x = np.where(finite, accel, 0.0)
            # reduceat needs valid start indices; empty frames are masked out below
            idx = np.minimum(starts, accel.shape[1] - 1)
            s1 = np.add.reduceat(x, idx, axis=1)
            s2 = np.add.reduceat(x * x, idx, axis=1)
            nbad = np.add.reduceat((~finite).astype(np.int64), idx)
        else:
            s1 = s2 = np.zeros((3, n))
            nbad = np.zeros(n, dtype=np.int64)
        safe = np.where(has, counts, 1.0)
        mean = s1 / safe
        var = np.maximum(s2 / safe - mean**2, 0.0).sum(axis=0)
        valid = has & (nbad == 0)
        norm = np.sqrt((mean**2).sum(axis=0))
        valid &= norm > 0.2  # a shank IMU at rest reads ~1 g; ≪ 1 g means no real data
        unit = mean / np.where(norm > 0, norm, 1.0)
        # previous valid unit vector for each frame (carried across batches)
        tilt = np.zeros(n)
        prev = self._prev
        vidx = np.flatnonzero(valid)
        if vidx.size:
            chain = unit[:, vidx]
            before = np.empty_like(chain)
            before[:, 1:] = chain[:, :-1]
            before[:, 0] = prev if prev is not None else chain[:, 0]
            cosang = np.clip((chain * before).sum(axis=0), -1.0, 1.0)
            tilt[vidx] = np.degrees(np.arccos(cosang))
            self._prev = chain[:, -1].copy()
        return MotionFrames(
            activity_g=np.sqrt(var),
            tilt_deg=tilt,
            shank_g=np.abs(unit[self._axis]),
            valid=valid,
        )
