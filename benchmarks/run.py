"""Time and score a detector over the benchmark corpus, with the speed floor in the same run.

::

    python -m benchmarks.run [--detector naive|pipeline|CMD] [--quick] [-j N] [--json OUT]

* ``naive``: :class:`benchmarks.naive_detector.NaiveDetector`; ``pipeline``:
  ``detector.pipeline.Pipeline(DetectorSettings(), ...)``. In-process detectors implement
  :class:`detector.types.CrampDetector`; the EDF is read a minute at a time and only the
  ``process``/``finish`` calls are timed.
* anything else is a command line: ``CMD NIGHT.edf`` must print event JSONL (contracts.md "Event
  JSON") to stdout; the whole process is timed (start-up, EDF reading, detection). This is how
  ``crampwatch replay`` is timed.

In the same run and over the same EMG blocks, the *speed floor*: one bare
``scipy.signal.sosfilt`` Butterworth band-pass (20–450 Hz, 4th order, carried state) pass. Per
night it reports detector seconds, × real time (night length / seconds), the floor's seconds and
the detector / floor ratio, then the scores (``detector.scoring``) per night and pooled.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bedside.events import event_record
from benchmarks.corpus import (
    CORPUS,
    DEFAULT_CACHE,
    QUICK,
    NightSignals,
    NightSpec,
    ensure_night,
    iter_night,
    night_dir,
    night_signals,
)
from benchmarks.sosfilt_floor import SosfiltFloor
from detector.scoring import CorpusScore, aggregate, format_table, score_night, to_dict
from detector.types import CrampDetector, DetectorEvent
from firmware_bridge.edf import EdfReader
from firmware_bridge.errors import InputError

IN_PROCESS = ("naive", "pipeline")


def make_detector(name: str, sig: NightSignals) -> CrampDetector:
    """Build an in-process detector by name (``naive`` or ``pipeline``) for one night's signals.

    The pipeline gets ``DetectorSettings()`` and, if its constructor takes them, the EMG labels
    (so it can tell a shin channel from calf ones), as ``crampwatch replay`` does.
    """
    if name == "naive":
        from benchmarks.naive_detector import NaiveDetector

        return NaiveDetector(
            emg_rate_hz=sig.emg_rate_hz,
            accel_rate_hz=sig.accel_rate_hz,
            n_emg_channels=len(sig.emg_indices),
        )
    if name == "pipeline":
        from detector.settings import DetectorSettings

        # imported by name: the production pipeline is built in parallel with this harness
        pipeline_class = importlib.import_module("detector.pipeline").Pipeline
        params = inspect.signature(pipeline_class).parameters
        extra = {"emg_labels": sig.emg_labels} if "emg_labels" in params else {}
        pipeline: CrampDetector = pipeline_class(
            DetectorSettings(),
            emg_rate_hz=sig.emg_rate_hz,
            accel_rate_hz=sig.accel_rate_hz,
            n_emg_channels=len(sig.emg_indices),
            **extra,
        )
        return pipeline
    raise ValueError(f"unknown in-process detector {name!r}; expected one of {IN_PROCESS}")


@dataclass(frozen=True, slots=True, kw_only=True)
class NightRun:
    """Timings (s) and events of one detector over one night."""

    name: str
    hours: float
    emg_rate_hz: float
    n_emg_channels: int
    generation_s: float | None  # None: night came from the cache
    detector_s: float
    floor_s: float
    read_s: float  # EDF reading for the in-process / floor pass
    returncode: int | None  # external command only
    events: list[dict[str, Any]] = field(default_factory=list)
    truth: dict[str, Any] = field(default_factory=dict)

    @property
    def x_realtime(self) -> float:
        return self.hours * 3600.0 / self.detector_s if self.detector_s > 0 else float("inf")

    @property
    def floor_x_realtime(self) -> float:
        return self.hours * 3600.0 / self.floor_s if self.floor_s > 0 else float("inf")

    @property
    def ratio(self) -> float:
        return self.detector_s / self.floor_s if self.floor_s > 0 else float("inf")


def run_night(spec: NightSpec, detector: str, directory: Path) -> NightRun:
    """Generate into ``directory`` if needed, then time ``detector`` and the floor on the night."""
    night = ensure_night(spec, directory)
    return run_edf(
        night.edf, night.truth, detector, name=spec.name, generation_s=night.generation_s
    )


def run_edf(
    edf: Path,
    truth_path: Path,
    detector: str,
    *,
    name: str,
    generation_s: float | None = None,
) -> NightRun:
    """Time ``detector`` (in-process name or command) and the sosfilt floor over one EDF night."""
    truth = json.loads(truth_path.read_text())
    leg = str(truth.get("subject", {}).get("leg", "left"))
    reader = EdfReader(edf)
    sig = night_signals(reader)
    n_ch = len(sig.emg_indices)
    floor = SosfiltFloor(sig.emg_rate_hz, n_ch)
    det = make_detector(detector, sig) if (detector in IN_PROCESS) else None
    raw: list[DetectorEvent] = []
    detector_s = read_s = 0.0
    t_read = time.perf_counter()
    for emg, accel in iter_night(reader, sig):
        t0 = time.perf_counter()
        read_s += t0 - t_read
        floor.process(emg)
        t1 = time.perf_counter()
        if det is not None:
            raw += det.process(emg, accel)
            detector_s += time.perf_counter() - t1
        t_read = time.perf_counter()
    returncode: int | None = None
    if det is not None:
        t0 = time.perf_counter()
        raw += det.finish()
        detector_s += time.perf_counter() - t0
        events = [
            event_record(e, session_id=name, leg=leg, session_start=reader.start) for e in raw
        ]
    else:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [*shlex.split(detector), str(edf)],
            capture_output=True,
            text=True,
            check=False,
        )
        detector_s = time.perf_counter() - t0
        returncode = proc.returncode
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or [""]
            raise InputError(f"{detector!r} on {edf.name}: exit {proc.returncode}: {tail[0]}")
        events = parse_jsonl(proc.stdout, f"{detector!r} on {edf.name}")
    return NightRun(
        name=name,
        hours=sig.duration_s / 3600.0,
        emg_rate_hz=sig.emg_rate_hz,
        n_emg_channels=n_ch,
        generation_s=generation_s,
        detector_s=detector_s,
        floor_s=floor.seconds,
        read_s=read_s,
        returncode=returncode,
        events=events,
        truth=truth,
    )


def parse_jsonl(text: str, where: str) -> list[dict[str, Any]]:
    """Event JSON objects, one per non-blank line; :class:`InputError` names the bad line."""
    events: list[dict[str, Any]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: stdout line {lineno}: not JSON: {exc.msg}") from exc
        if not isinstance(event, dict):
            raise InputError(f"{where}: stdout line {lineno}: not a JSON object")
        events.append(event)
    return events


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchResult:
    detector: str
    nights: list[NightRun]
    score: CorpusScore
    wall_s: float
    corpus: str  # simulator fingerprint: the cache subdirectory the nights came from


def run_corpus(
    specs: Sequence[NightSpec], detector: str, cache_dir: Path = DEFAULT_CACHE, jobs: int = 1
) -> BenchResult:
    """Run ``detector`` over ``specs`` (``jobs`` processes) and score every night."""
    t0 = time.perf_counter()
    directory = night_dir(cache_dir)
    if jobs <= 1:
        runs = [run_night(s, detector, directory) for s in specs]
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            runs = list(
                pool.map(run_night, specs, [detector] * len(specs), [directory] * len(specs))
            )
    try:
        score = aggregate(score_night(r.truth, r.events, name=r.name) for r in runs)
    except ValueError as exc:
        raise InputError(f"detector {detector!r}: {exc}") from exc
    return BenchResult(
        detector=detector,
        nights=runs,
        score=score,
        wall_s=time.perf_counter() - t0,
        corpus=directory.name,
    )


def _gen(value: float | None) -> str:
    return "cached" if value is None else f"{value:.1f}"


def format_speed(result: BenchResult) -> str:
    """Speed table: seconds and × real time for the detector and the sosfilt floor."""
    head = (
        f"{'night':<20} {'hours':>5} {'EMG Hz':>7} {'ch':>2} {'gen s':>7} {'read s':>7} "
        f"{'det s':>8} {'det ×RT':>9} {'floor s':>8} {'floor ×RT':>10} {'det/floor':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in result.nights:
        lines.append(
            f"{r.name:<20} {r.hours:>5.2f} {r.emg_rate_hz:>7g} {r.n_emg_channels:>2} "
            f"{_gen(r.generation_s):>7} {r.read_s:>7.2f} {r.detector_s:>8.2f} "
            f"{r.x_realtime:>9.0f} {r.floor_s:>8.2f} {r.floor_x_realtime:>10.0f} {r.ratio:>9.1f}"
        )
    hours = sum(r.hours for r in result.nights)
    det = sum(r.detector_s for r in result.nights)
    floor = sum(r.floor_s for r in result.nights)
    lines += [
        "-" * len(head),
        f"{'all':<20} {hours:>5.1f} {'':>7} {'':>2} {'':>7} "
        f"{sum(r.read_s for r in result.nights):>7.2f} {det:>8.2f} "
        f"{hours * 3600 / det if det else float('inf'):>9.0f} {floor:>8.2f} "
        f"{hours * 3600 / floor if floor else float('inf'):>10.0f} "
        f"{det / floor if floor else float('inf'):>9.1f}",
    ]
    return "\n".join(lines)


def result_dict(result: BenchResult) -> dict[str, Any]:
    nights = []
    for r in result.nights:
        d = asdict(r)
        del d["events"], d["truth"]
        d.update(x_realtime=r.x_realtime, floor_x_realtime=r.floor_x_realtime, ratio=r.ratio)
        nights.append(d)
    return {
        "detector": result.detector,
        "wall_s": result.wall_s,
        "corpus": result.corpus,
        "speed": nights,
        "score": to_dict(result.score),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument(
        "--detector",
        default="naive",
        help="naive | pipeline | a command run as `CMD NIGHT.edf` printing event JSONL",
    )
    parser.add_argument("--quick", action="store_true", help="the 3-night quick subset")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="parallel processes")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="corpus cache directory")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write results as JSON")
    parser.add_argument(
        "--events-dir", type=Path, help="write each night's events JSONL here (for `score`)"
    )
    args = parser.parse_args(argv)
    specs = QUICK if args.quick else CORPUS
    try:
        result = run_corpus(specs, args.detector, args.cache, args.jobs)
    except InputError as exc:
        print(f"benchmarks.run: {exc}", file=sys.stderr)
        return exc.exit_code
    except ModuleNotFoundError as exc:
        print(f"benchmarks.run: --detector {args.detector}: {exc}", file=sys.stderr)
        return 1
    print(
        f"detector: {args.detector}   nights: {len(specs)}   wall: {result.wall_s:.1f} s   "
        f"corpus: {result.corpus} (simulator fingerprint)"
    )
    print(format_speed(result))
    print()
    print(format_table(result.score))
    if args.json:
        args.json.write_text(json.dumps(result_dict(result), indent=2) + "\n")
    if args.events_dir:
        args.events_dir.mkdir(parents=True, exist_ok=True)
        for r in result.nights:
            lines = "".join(json.dumps(e) + "\n" for e in r.events)
            (args.events_dir / f"{r.name}.events.jsonl").write_text(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
