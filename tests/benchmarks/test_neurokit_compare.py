"""The NeuroKit2 comparison harness: both sides get the same EMG span, timing and ratio are honest.

NeuroKit2 itself is an optional extra (not installed in CI); the harness takes any whole-signal
processor, so these tests hand it one of ours and check what it was given.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks.neurokit_compare import compare, find_spec, format_comparison
from benchmarks.neurokit_compare import main as compare_main
from detector.types import FloatArray
from firmware_bridge.errors import InputError
from tests.benchmarks.test_run import handmade_night


def test_other_gets_the_calf_channel_cut_at_the_same_hours(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    edf, _ = handmade_night(tmp_path, rng)
    seen: list[tuple[FloatArray, float]] = []
    result = compare(edf, lambda emg, fs: seen.append((emg, fs)), name="hand", hours=90 / 3600)
    ((emg, fs),) = seen
    assert fs == 1000.0 and emg.shape == (90_000,)
    # the handmade night's calf is 3 µV at rest and ×10 from 70 s: the span is the real signal
    assert 2.0 < float(np.std(emg[:60_000])) < 4.0 and float(np.std(emg[75_000:])) > 20.0
    assert result.seconds == pytest.approx(90.0)


def test_speedup_is_the_ratio_of_cpu_seconds(tmp_path: Path, rng: np.random.Generator) -> None:
    edf, _ = handmade_night(tmp_path, rng)

    def slow(emg: FloatArray, fs: float) -> None:
        c0 = time.process_time()
        while time.process_time() - c0 < 0.3:  # burn 0.3 s of CPU
            pass

    result = compare(edf, slow, name="hand")
    assert result.seconds == pytest.approx(120.0)
    assert result.other_cpu_s >= 0.3
    assert result.speedup == pytest.approx(result.other_cpu_s / result.pipeline_cpu_s)
    text = format_comparison(result, "slow")
    assert f"{result.speedup:,.0f}× faster than slow" in text


def test_unknown_night_lists_the_names() -> None:
    with pytest.raises(InputError, match=r"no benchmark night 'nope'.*typical-s5-8h"):
        find_spec("nope")


def test_without_neurokit_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "neurokit2", None)  # import raises ModuleNotFoundError
    assert compare_main(["--hours", "0.01"]) == 2
    assert "pip install -e '.[bench]'" in capsys.readouterr().err
