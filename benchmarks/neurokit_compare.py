"""Our replay against NeuroKit2's ``emg_process`` on the same EMG (issue 3: ≥ 200× faster).

::

    python -m benchmarks.neurokit_compare [--night typical-s5-8h] [--hours H] [--cache DIR]

One corpus night (generated into the corpus cache if absent) is read in the blocks
``benchmarks.run`` uses. The first ``--hours`` of it (default: all) go

* through ``detector.pipeline.Pipeline`` block by block, every EMG channel and the
  accelerometer, as ``crampwatch replay`` does;
* through one bare ``scipy.signal.sosfilt`` band-pass pass (``benchmarks.sosfilt_floor``);
* as one array (the calf channel only: NeuroKit2 needs the whole signal in memory) through
  ``neurokit2.emg_process`` at its defaults: zero-phase 100 Hz high-pass and powerline filter
  (``emg_clean``), amplitude envelope and threshold activation [NK, physiology.md §3].

Each is timed with ``process_time`` (CPU seconds of this process: the machine is shared) in the
same run, and the table gives the ratios. NeuroKit2 is an optional extra
(``pip install -e '.[bench]'``); without it the script says so and exits 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.corpus import (
    CORPUS,
    DEFAULT_CACHE,
    HOLDOUT,
    NightSpec,
    ensure_night,
    iter_night,
    night_dir,
    night_signals,
)
from benchmarks.run import make_detector
from benchmarks.sosfilt_floor import SosfiltFloor
from detector.types import DetectorEvent, FloatArray
from firmware_bridge.edf import EdfReader
from firmware_bridge.errors import InputError

DEFAULT_NIGHT = "typical-s5-8h"
TARGET_RATIO = 200.0  # issue 3: replay ≥ 200× faster than NeuroKit2's emg_process

#: A whole-signal EMG processor: ``(calf EMG (n,) µV, rate Hz) -> anything``.
WholeSignalProcessor = Callable[[FloatArray, float], object]


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """CPU seconds of each contender over the same ``seconds`` of one night's EMG."""

    night: str
    seconds: float
    emg_rate_hz: float
    n_emg_channels: int
    pipeline_cpu_s: float
    floor_cpu_s: float
    other_cpu_s: float
    cramps_found: int

    @property
    def speedup(self) -> float:
        """Other's CPU time / pipeline CPU time (how many times faster our replay is)."""
        return self.other_cpu_s / self.pipeline_cpu_s if self.pipeline_cpu_s > 0 else float("inf")


def find_spec(name: str) -> NightSpec:
    """The corpus or held-out night called ``name``; :class:`InputError` lists the names."""
    for spec in (*CORPUS, *HOLDOUT):
        if spec.name == name:
            return spec
    names = ", ".join(s.name for s in (*CORPUS, *HOLDOUT))
    raise InputError(f"no benchmark night {name!r}; one of: {names}")


def compare(
    edf: Path, other: WholeSignalProcessor, *, name: str, hours: float | None = None
) -> Comparison:
    """Time the pipeline, the sosfilt floor and ``other`` over the first ``hours`` of ``edf``."""
    reader = EdfReader(edf)
    sig = night_signals(reader)
    limit = round((hours * 3600.0 if hours else sig.duration_s) * sig.emg_rate_hz)
    pipeline = make_detector("pipeline", sig)
    floor = SosfiltFloor(sig.emg_rate_hz, len(sig.emg_indices))
    calf: list[FloatArray] = []
    events: list[DetectorEvent] = []
    cpu = 0.0
    taken = 0
    for emg, accel in iter_night(reader, sig):
        if taken >= limit:
            break
        keep = min(emg.shape[1], limit - taken)
        if keep < emg.shape[1]:  # cut the accelerometer at the same instant
            accel = accel[:, : round(keep * sig.accel_rate_hz / sig.emg_rate_hz)]
            emg = emg[:, :keep]
        taken += keep
        c0 = time.process_time()
        events += pipeline.process(emg, accel)
        cpu += time.process_time() - c0
        floor.process(emg)
        calf.append(emg[0])
    c0 = time.process_time()
    events += pipeline.finish()
    cpu += time.process_time() - c0
    whole = np.concatenate(calf) if calf else np.zeros(0)
    c0 = time.process_time()
    other(whole, sig.emg_rate_hz)
    other_cpu = time.process_time() - c0
    return Comparison(
        night=name,
        seconds=taken / sig.emg_rate_hz,
        emg_rate_hz=sig.emg_rate_hz,
        n_emg_channels=len(sig.emg_indices),
        pipeline_cpu_s=cpu,
        floor_cpu_s=floor.cpu_seconds,
        other_cpu_s=other_cpu,
        cramps_found=sum(e.kind.value == "cramp_started" for e in events),
    )


def neurokit_emg_process() -> WholeSignalProcessor:
    """``neurokit2.emg_process`` at its defaults; :class:`ModuleNotFoundError` if not installed."""
    nk = importlib.import_module("neurokit2")

    def run(emg: FloatArray, rate_hz: float) -> object:
        return nk.emg_process(emg, sampling_rate=round(rate_hz))

    return run


def format_comparison(c: Comparison, other: str) -> str:
    rt = c.seconds
    lines = [
        f"night: {c.night}, first {c.seconds / 3600.0:g} h, EMG {c.emg_rate_hz:g} Hz × "
        f"{c.n_emg_channels} ch ({other}: calf channel only)",
        f"{'':28s}{'CPU s':>10s}{'× real time':>14s}{'÷ pipeline':>12s}",
    ]
    for label, cpu in (
        ("pipeline (all channels)", c.pipeline_cpu_s),
        ("bare sosfilt band-pass", c.floor_cpu_s),
        (other, c.other_cpu_s),
    ):
        ratio = cpu / c.pipeline_cpu_s if c.pipeline_cpu_s > 0 else float("inf")
        lines.append(
            f"{label:28s}{cpu:10.2f}{rt / cpu if cpu > 0 else float('inf'):14,.0f}{ratio:12.2f}"
        )
    verdict = "met" if c.speedup >= TARGET_RATIO else "NOT met"
    lines.append(
        f"pipeline is {c.speedup:,.0f}× faster than {other} "
        f"(target ≥ {TARGET_RATIO:g}×: {verdict}); cramps found: {c.cramps_found}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.neurokit_compare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--night", default=DEFAULT_NIGHT, help="corpus or held-out night name")
    ap.add_argument("--hours", type=float, help="only the first HOURS of it (default: all)")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="corpus cache directory")
    args = ap.parse_args(argv)
    try:
        other = neurokit_emg_process()
    except ModuleNotFoundError:
        print(
            "benchmarks.neurokit_compare: neurokit2 is not installed; "
            "pip install -e '.[bench]' (or pip install neurokit2)",
            file=sys.stderr,
        )
        return 2
    try:
        spec = find_spec(args.night)
        night = ensure_night(spec, night_dir(args.cache))
        result = compare(night.edf, other, name=spec.name, hours=args.hours)
    except InputError as exc:
        print(f"benchmarks.neurokit_compare: {exc}", file=sys.stderr)
        return exc.exit_code
    print(format_comparison(result, "neurokit2.emg_process"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
