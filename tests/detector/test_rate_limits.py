"""The detector refuses sample rates outside its documented range, quickly (issue #16 item 1).

A lying EDF header (record duration 1 µs: EMG "at 1e9 Hz") once made the window design in
``detector/spectrum.py`` allocate gigabytes and hang; the constructor now refuses it at once.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from detector.calibration import band_rms_frames
from detector.pipeline import Pipeline
from detector.rates import MAX_ACCEL_RATE_HZ, MAX_EMG_RATE_HZ
from detector.settings import DetectorSettings

S = DetectorSettings()


@pytest.mark.parametrize("emg_rate_hz", [1e9, 65_535.0, MAX_EMG_RATE_HZ + 1.0, float("inf"),
                                         float("nan"), 0.0, -1000.0])
def test_emg_rates_outside_the_range_are_refused_at_once(emg_rate_hz: float) -> None:
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"EMG rate .* outside the supported range "
                                         r"400-4000 Hz"):
        Pipeline(S, emg_rate_hz=emg_rate_hz, accel_rate_hz=50.0, n_emg_channels=1)
    assert time.perf_counter() - t0 < 0.5


@pytest.mark.parametrize("accel_rate_hz", [1e9, MAX_ACCEL_RATE_HZ + 1.0, 1.0, float("nan")])
def test_accel_rates_outside_the_range_are_refused(accel_rate_hz: float) -> None:
    with pytest.raises(ValueError, match=r"accelerometer rate .* outside the supported range "
                                         r"8-3200 Hz"):
        Pipeline(S, emg_rate_hz=1000.0, accel_rate_hz=accel_rate_hz, n_emg_channels=1)


@pytest.mark.parametrize(("emg_rate_hz", "accel_rate_hz"),
                         [(400.0, 8.0), (MAX_EMG_RATE_HZ, MAX_ACCEL_RATE_HZ), (500.0, 25.0)])
def test_the_edges_of_the_range_are_accepted(emg_rate_hz: float, accel_rate_hz: float) -> None:
    p = Pipeline(S, emg_rate_hz=emg_rate_hz, accel_rate_hz=accel_rate_hz, n_emg_channels=2)
    assert p.emg_rate_hz == emg_rate_hz


def test_the_lower_edge_follows_the_setting() -> None:
    with pytest.raises(ValueError, match="outside the supported range 450-4000 Hz"):
        Pipeline(DetectorSettings(min_emg_rate_hz=450.0), emg_rate_hz=440.0, accel_rate_hz=40.0,
                 n_emg_channels=1)


def test_calibration_refuses_an_absurd_rate_too() -> None:
    with pytest.raises(ValueError, match="EMG rate 1e\\+09 Hz is outside"):
        band_rms_frames(np.zeros((1, 1000)), 1e9, S)
