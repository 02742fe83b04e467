"""The per-night rest floor: a self-normalising, slowly tracking estimate of the resting EMG level.

Frames are grouped into *blocks* of ``block_frames`` frames aligned to the absolute frame index.
Each completed block contributes one statistic per channel: a low quantile of the log band-RMS of
its good frames (a block with fewer than half good frames contributes nothing). The floor in force
during block *J* is a low quantile of the statistics of the last ``history_blocks`` completed
blocks before *J* (needs at least ``min_blocks`` of them). Low quantiles make the floor the
quiet level of the night, so cramps (minutes [Hal17]), PLM series and turns do not lift it unless
they fill most of the history, while a changed electrode contact or sleep stage is followed within
minutes. No per-person calibration: everything downstream is a ratio to this floor (amplitude
differs ≥ 10× between people, floor 1–7 µV [physiology.md §6]).

Stateful (pending frames + history); no I/O, no clock.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from detector.types import FloatArray

# Good signal (s) needed before the floor exists; no alarms before (unless a calibration seeds
# the floor, detector.calibration). The pipeline asks its floors for this many seconds of
# blocks (``min_blocks``). Not a setting: it moved no figure of the pooled nights at 0.5× and
# 1.5× (issue 15, BENCHMARKS.md).
FLOOR_MIN_S = 30.0


def nan_quantile(a: FloatArray, q: float, min_count: int) -> FloatArray:
    """Quantile ``q`` along the last axis ignoring NaN (linear interpolation, like
    ``np.nanquantile``), NaN where fewer than ``min_count`` values are finite. Warning-free."""
    s = np.sort(a, axis=-1)  # NaN sort last
    count = np.isfinite(s).sum(axis=-1)
    pos = np.maximum(count - 1, 0) * q
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
    frac = pos - lo
    v_lo = np.take_along_axis(s, lo[..., None], axis=-1)[..., 0]
    v_hi = np.take_along_axis(s, hi[..., None], axis=-1)[..., 0]
    out = v_lo + (v_hi - v_lo) * frac
    return np.where(count >= max(min_count, 1), out, np.nan)


class RestFloor:
    """Tracks the log rest floor per channel. ``update`` returns the floor in force per frame."""

    def __init__(self, *, n_channels: int, block_frames: int, history_blocks: int,
                 block_quantile: float, history_quantile: float, min_blocks: int) -> None:
        self._n_ch = n_channels
        self._s = block_frames
        self._h = history_blocks
        self._q1 = block_quantile
        self._q2 = history_quantile
        self._min_blocks = min_blocks
        self.reset()

    def reset(self) -> None:
        self._pending: FloatArray = np.zeros((self._n_ch, 0))
        self._history: FloatArray = np.full((self._n_ch, self._h), np.nan)
        self._floor = np.full(self._n_ch, np.nan)

    @property
    def current(self) -> FloatArray:
        """The log floor now in force ``(n_ch,)`` (NaN while warming up)."""
        return self._floor.copy()

    def update(self, log_env: FloatArray, good: np.ndarray) -> FloatArray:
        """``log_env (n_ch, n)`` natural-log µV, ``good (n_ch, n)`` → log floor per frame
        ``(n_ch, n)``."""
        n = log_env.shape[1]
        vals = np.where(good, log_env, np.nan)
        n_old = self._pending.shape[1]
        allv = np.concatenate((self._pending, vals), axis=1)
        m = allv.shape[1] // self._s
        if m == 0:
            self._pending = allv
            return np.repeat(self._floor[:, None], n, axis=1)
        blocks = allv[:, : m * self._s].reshape(self._n_ch, m, self._s)
        stats = nan_quantile(blocks, self._q1, (self._s + 1) // 2)
        seq = np.concatenate((self._history, stats), axis=1)
        windows = sliding_window_view(seq, self._h, axis=1)  # (n_ch, m + 1, h)
        floors = nan_quantile(windows, self._q2, self._min_blocks)
        floors[:, 0] = self._floor  # window 0 is the history already in force
        # frame i of the batch lies in block (n_old + i) // s of this batch
        which = (n_old + np.arange(n)) // self._s
        out = floors[:, which]
        self._history = seq[:, -self._h:].copy()
        self._floor = floors[:, -1].copy()
        self._pending = allv[:, m * self._s:].copy()
        return out
