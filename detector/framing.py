"""Cut two streams into frames aligned to the absolute sample index.

Frame *k* covers EMG samples ``[k L, (k+1) L)`` with ``L = round(frame_s * emg_rate_hz)``, and
accelerometer samples ``[b(k), b(k+1))`` with ``b(k) = floor(k L accel_rate_hz / emg_rate_hz)``:
the accelerometer samples of the same stretch of stream time. A frame is emitted once *both*
streams cover it; leftovers wait for the next block (house-style §2, timeflux ``Slide``). Frame
boundaries depend only on absolute indices, so any partition of the input into blocks (including
empty and one-sample blocks) yields the same frames.

No I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.types import FloatArray


def accel_boundary(k: int | np.ndarray, emg_frame_len: int, emg_rate_hz: float,
                   accel_rate_hz: float) -> np.ndarray:
    """Accelerometer sample index where EMG frame ``k`` starts (floor; vectorised over k)."""
    ratio = emg_frame_len * accel_rate_hz / emg_rate_hz
    # the 1e-9 guards integer products (e.g. 25 * 20.0) against round-off just below the integer
    return np.floor(np.asarray(k, dtype=np.float64) * ratio + 1e-9).astype(np.int64)


@dataclass(frozen=True, slots=True)
class Frames:
    """A batch of complete frames.

    ``emg``: ``(n_ch, n_frames, L)`` µV; ``accel``: ``(3, bounds[-1] - bounds[0])`` g, the
    samples of all frames back to back; ``accel_bounds``: ``(n_frames + 1,)`` offsets into
    ``accel`` (frame j's samples are ``accel[:, bounds[j]:bounds[j+1]]``); ``first``: index of
    frame 0.
    """

    first: int
    emg: FloatArray
    accel: FloatArray
    accel_bounds: np.ndarray

    @property
    def count(self) -> int:
        return int(self.emg.shape[1])


class Framer:
    """Holds the not-yet-framed tails of both streams and emits complete, aligned frames."""

    def __init__(self, *, n_emg_channels: int, emg_frame_len: int, emg_rate_hz: float,
                 accel_rate_hz: float) -> None:
        if emg_frame_len < 1:
            raise ValueError(f"emg_frame_len must be >= 1, got {emg_frame_len}")
        self._n_ch = n_emg_channels
        self._len = emg_frame_len
        self._emg_rate_hz = emg_rate_hz
        self._accel_rate_hz = accel_rate_hz
        self.reset()

    def reset(self) -> None:
        """Forget everything: next frame is frame 0 again."""
        self._set_tails(np.zeros((self._n_ch, 0)), np.zeros((3, 0)))
        self._next_frame = 0  # index of the first frame not yet emitted
        self._accel_tail_start = 0  # absolute accel index of the first pending accel sample
        self._need_acc = int(accel_boundary(1, self._len, self._emg_rate_hz, self._accel_rate_hz))
        self._empty = Frames(first=0, emg=np.zeros((self._n_ch, 0, self._len)),
                             accel=np.zeros((3, 0)), accel_bounds=np.zeros(1, dtype=np.int64))

    @property
    def next_frame(self) -> int:
        return self._next_frame

    def push(self, emg: FloatArray, accel: FloatArray) -> Frames:
        """Append ``emg (n_ch, n)`` µV and ``accel (3, m)`` g; return every frame now complete."""
        self._emg_parts.append(emg)
        self._acc_parts.append(accel)
        self._n_emg += emg.shape[1]
        self._n_acc += accel.shape[1]
        # fast path (most small live blocks): not even one frame yet, no copying
        if self._n_emg < self._len or self._n_acc < self._need_acc:
            return self._empty
        emg_all = np.concatenate(self._emg_parts, axis=1)
        acc_all = np.concatenate(self._acc_parts, axis=1)
        n_by_emg = emg_all.shape[1] // self._len
        # frames fully covered by the accelerometer: b(k+1) <= accel end
        acc_end = self._accel_tail_start + acc_all.shape[1]
        ks = self._next_frame + np.arange(n_by_emg + 1)
        bounds_abs = accel_boundary(ks, self._len, self._emg_rate_hz, self._accel_rate_hz)
        covered = int(np.searchsorted(bounds_abs, acc_end, side="right")) - 1
        n = max(0, min(n_by_emg, covered))
        bounds = bounds_abs[: n + 1] - self._accel_tail_start
        emg_frames = emg_all[:, : n * self._len].reshape(self._n_ch, n, self._len)
        acc_frames = acc_all[:, : int(bounds[-1])]
        out = Frames(first=self._next_frame, emg=emg_frames, accel=acc_frames,
                     accel_bounds=bounds - bounds[0])
        self._set_tails(emg_all[:, n * self._len:].copy(), acc_all[:, int(bounds[-1]):].copy())
        self._accel_tail_start += int(bounds[-1])
        self._next_frame += n
        self._need_acc = int(accel_boundary(self._next_frame + 1, self._len, self._emg_rate_hz,
                                            self._accel_rate_hz)) - self._accel_tail_start
        return out

    def _set_tails(self, emg: FloatArray, acc: FloatArray) -> None:
        self._emg_parts: list[FloatArray] = [emg]
        self._acc_parts: list[FloatArray] = [acc]
        self._n_emg = int(emg.shape[1])
        self._n_acc = int(acc.shape[1])

    @property
    def pending_emg(self) -> int:
        return self._n_emg

    @property
    def pending_accel(self) -> int:
        return self._n_acc
