"""The speed floor: one bare ``scipy.signal.sosfilt`` band-pass pass over a night's EMG.

No detector can be faster than filtering its input once, so ``benchmarks.run`` reports every
detector's time as a multiple of this pass, measured in the same run over the same EMG blocks.
The filter is a 4th-order Butterworth band-pass, 20–450 Hz (LibEMG's default band,
physiology.md §3 [LE]), as second-order sections with carried state (streaming, causal).

``python -m benchmarks.sosfilt_floor NIGHT.edf`` times the pass alone over one EDF night.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import signal

from detector.types import FloatArray
from firmware_bridge.edf import EdfReader
from firmware_bridge.errors import InputError

FLOOR_BAND_HZ = (20.0, 450.0)  # LibEMG default band (physiology.md §3 [LE])
FLOOR_ORDER = 4


def floor_sos(emg_rate_hz: float) -> FloatArray:
    """Second-order sections ``(4, 6)``; the upper corner is held below 0.45 × the rate."""
    high = min(FLOOR_BAND_HZ[1], 0.45 * emg_rate_hz)
    sos: FloatArray = signal.butter(
        FLOOR_ORDER, [FLOOR_BAND_HZ[0], high], "bandpass", fs=emg_rate_hz, output="sos"
    )
    return sos


class SosfiltFloor:
    """Filters EMG blocks ``(n_channels, n)`` µV; adds up wall and CPU seconds in ``sosfilt``."""

    def __init__(self, emg_rate_hz: float, n_channels: int) -> None:
        self._sos = floor_sos(emg_rate_hz)
        self._zi = np.zeros((self._sos.shape[0], n_channels, 2))
        self.seconds = 0.0  # wall clock (perf_counter)
        self.cpu_seconds = 0.0  # this process's CPU time (process_time)
        self.samples = 0

    def process(self, emg: FloatArray) -> None:
        if emg.shape[-1] == 0:  # scipy's sosfilt raises ValueError on an empty block
            return
        t0, c0 = time.perf_counter(), time.process_time()
        _, self._zi = signal.sosfilt(self._sos, emg, axis=-1, zi=self._zi)
        self.seconds += time.perf_counter() - t0
        self.cpu_seconds += time.process_time() - c0
        self.samples += emg.shape[-1]


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.corpus import iter_night, night_signals

    parser = argparse.ArgumentParser(prog="python -m benchmarks.sosfilt_floor", description=__doc__)
    parser.add_argument("edf", type=Path)
    args = parser.parse_args(argv)
    try:
        reader = EdfReader(args.edf)
        sig = night_signals(reader)
    except InputError as exc:
        print(f"benchmarks.sosfilt_floor: {exc}", file=sys.stderr)
        return exc.exit_code
    floor = SosfiltFloor(sig.emg_rate_hz, len(sig.emg_indices))
    for emg, _accel in iter_night(reader, sig):
        floor.process(emg)
    print(
        f"{args.edf.name}: {sig.duration_s / 3600:.2f} h, {len(sig.emg_indices)} ch at "
        f"{sig.emg_rate_hz:g} Hz: sosfilt {floor.seconds:.3f} s "
        f"({sig.duration_s / max(floor.seconds, 1e-9):.0f}× real time)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
