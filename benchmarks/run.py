"""Time and score a detector over the benchmark corpus, with the speed floor in the same run.

::

    python -m benchmarks.run [--detector naive|pipeline|CMD]
                             [--quick | --holdout | --holdout-b | --family-mix] [-j N]
                             [--config FILE] [--set KEY=VALUE ...] [--emg-only] [--json OUT]

* ``naive``: :class:`benchmarks.naive_detector.NaiveDetector`; ``pipeline``:
  ``detector.pipeline.Pipeline(DetectorSettings(), ...)``. In-process detectors implement
  :class:`detector.types.CrampDetector`; the EDF is read a minute at a time and only the
  ``process``/``finish`` calls are timed. ``--emg-only`` declares every accelerometer block lost
  (``gap(0, m)``), as ``crampwatch replay`` does for a file without accelerometer channels.
  ``--set confirm_s=4`` overrides one ``[detector]`` key (checked like a config file), so the
  variants BENCHMARKS.md reports as tried can be re-measured.
* anything else is a command line: ``CMD NIGHT.edf`` must print event JSONL (contracts.md "Event
  JSON") to stdout; the whole process is timed (start-up, EDF reading, detection). This is how
  ``crampwatch replay`` is timed.

In the same run and over the same EMG blocks, the *speed floor*: one bare
``scipy.signal.sosfilt`` Butterworth band-pass (20–450 Hz, 4th order, carried state) pass. Per
night it reports detector seconds, × real time (night length / seconds), the floor's seconds and
the detector / floor ratio, then the scores (``bedside.offline.scoring``) per night and pooled.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import resource
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bedside.config.settings import load_settings
from bedside.offline.scoring import CorpusScore, aggregate, format_table, score_night, to_dict
from bedside.offline.tune import parse_grid
from bedside.stream.records import event_record
from benchmarks.corpus import (
    DEFAULT_CACHE,
    NightSignals,
    NightSpec,
    add_night_set_options,
    chosen_night_set,
    ensure_night,
    iter_night,
    night_dir,
    night_signals,
)
from benchmarks.sosfilt_floor import SosfiltFloor
from detector.settings import DetectorSettings
from detector.types import CrampDetector, DetectorEvent
from firmware_bridge.edf import EdfReader
from firmware_bridge.errors import ConfigError, InputError

IN_PROCESS = ("naive", "pipeline")


def make_detector(
    name: str, sig: NightSignals, settings: DetectorSettings | None = None
) -> CrampDetector:
    """Build an in-process detector by name (``naive`` or ``pipeline``) for one night's signals.

    The pipeline gets ``settings`` (default ``DetectorSettings()``) and, if its constructor
    takes them, the EMG labels (so it can tell a shin channel from calf ones), as
    ``crampwatch replay`` does. The naive detector has its own fixed settings.
    """
    if name == "naive":
        from benchmarks.naive_detector import NaiveDetector

        return NaiveDetector(
            emg_rate_hz=sig.emg_rate_hz,
            accel_rate_hz=sig.accel_rate_hz,
            n_emg_channels=len(sig.emg_indices),
        )
    if name == "pipeline":
        # imported by name: the production pipeline is built in parallel with this harness
        pipeline_class = importlib.import_module("detector.pipeline").Pipeline
        params = inspect.signature(pipeline_class).parameters
        extra = {"emg_labels": sig.emg_labels} if "emg_labels" in params else {}
        pipeline: CrampDetector = pipeline_class(
            settings or DetectorSettings(),
            emg_rate_hz=sig.emg_rate_hz,
            accel_rate_hz=sig.accel_rate_hz,
            n_emg_channels=len(sig.emg_indices),
            **extra,
        )
        return pipeline
    raise ValueError(f"unknown in-process detector {name!r}; expected one of {IN_PROCESS}")


@dataclass(frozen=True, slots=True, kw_only=True)
class NightRun:
    """Timings (wall and CPU seconds) and events of one detector over one night.

    Wall time suffers when the machine is shared; CPU time (``process_time`` in-process,
    ``RUSAGE_CHILDREN`` for a command) does much less, so the ratios use CPU time.
    """

    name: str
    hours: float
    emg_rate_hz: float
    n_emg_channels: int
    generation_s: float | None  # None: night came from the cache
    generation_cpu_s: float | None
    detector_s: float
    detector_cpu_s: float
    floor_s: float
    floor_cpu_s: float
    read_s: float  # EDF reading for the in-process / floor pass (wall)
    returncode: int | None  # external command only
    events: list[dict[str, Any]] = field(default_factory=list)
    truth: dict[str, Any] = field(default_factory=dict)

    @property
    def x_realtime(self) -> float:
        """Night length / detector CPU seconds."""
        return _div(self.hours * 3600.0, self.detector_cpu_s)

    @property
    def floor_x_realtime(self) -> float:
        return _div(self.hours * 3600.0, self.floor_cpu_s)

    @property
    def ratio(self) -> float:
        """Detector CPU time / floor CPU time."""
        return _div(self.detector_cpu_s, self.floor_cpu_s)


def _div(a: float, b: float) -> float:
    return a / b if b > 0 else float("inf")


class Stopwatch:
    """Adds up wall (``perf_counter``) and CPU (``process_time``) seconds of timed blocks."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    @contextmanager
    def timing(self) -> Iterator[None]:
        w, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall += time.perf_counter() - w
            self.cpu += time.process_time() - c


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_night(
    spec: NightSpec,
    detector: str,
    directory: Path,
    settings: DetectorSettings | None = None,
    emg_only: bool = False,
) -> NightRun:
    """Generate into ``directory`` if needed, then time ``detector`` and the floor on the night."""
    night = ensure_night(spec, directory)
    return run_edf(
        night.edf,
        night.truth,
        detector,
        name=spec.name,
        generation=(night.generation_s, night.generation_cpu_s),
        settings=settings,
        emg_only=emg_only,
    )


def run_edf(
    edf: Path,
    truth_path: Path,
    detector: str,
    *,
    name: str,
    generation: tuple[float | None, float | None] = (None, None),
    settings: DetectorSettings | None = None,
    emg_only: bool = False,
) -> NightRun:
    """Time ``detector`` (in-process name or command) and the sosfilt floor over one EDF night.

    ``emg_only`` (in-process detectors only): every accelerometer block is declared lost with
    ``gap(0, m)`` instead of fed, as ``crampwatch replay`` feeds an EMG-only file.
    """
    if emg_only and detector not in IN_PROCESS:
        raise InputError(f"--emg-only needs an in-process detector ({', '.join(IN_PROCESS)})")
    truth = json.loads(truth_path.read_text())
    leg = str(truth.get("subject", {}).get("leg", "left"))
    reader = EdfReader(edf)
    sig = night_signals(reader)
    n_ch = len(sig.emg_indices)
    floor = SosfiltFloor(sig.emg_rate_hz, n_ch)
    det = make_detector(detector, sig, settings) if detector in IN_PROCESS else None
    raw: list[DetectorEvent] = []
    clock, read = Stopwatch(), Stopwatch()
    blocks = iter_night(reader, sig)
    while True:
        with read.timing():
            block = next(blocks, None)
        if block is None:
            break
        emg, accel = block
        floor.process(emg)
        if det is not None:
            with clock.timing():
                if emg_only:
                    raw += det.process(emg, accel[:, :0])
                    raw += det.gap(0, accel.shape[1])
                else:
                    raw += det.process(emg, accel)
    returncode: int | None = None
    if det is not None:
        with clock.timing():
            raw += det.finish()
        events = [
            event_record(e, session_id=name, leg=leg, session_start=reader.start).to_json()
            for e in raw
        ]
    else:
        t0, c0 = time.perf_counter(), _children_cpu()
        proc = subprocess.run(
            [*shlex.split(detector), str(edf)],
            capture_output=True,
            text=True,
            check=False,
        )
        clock.wall, clock.cpu = time.perf_counter() - t0, _children_cpu() - c0
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
        generation_s=generation[0],
        generation_cpu_s=generation[1],
        detector_s=clock.wall,
        detector_cpu_s=clock.cpu,
        floor_s=floor.seconds,
        floor_cpu_s=floor.cpu_seconds,
        read_s=read.wall,
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
    specs: Sequence[NightSpec],
    detector: str,
    cache_dir: Path = DEFAULT_CACHE,
    jobs: int = 1,
    settings: DetectorSettings | None = None,
    emg_only: bool = False,
) -> BenchResult:
    """Run ``detector`` over ``specs`` (``jobs`` processes) and score every night."""
    t0 = time.perf_counter()
    directory = night_dir(cache_dir)
    if jobs <= 1:
        runs = [run_night(s, detector, directory, settings, emg_only) for s in specs]
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            runs = list(
                pool.map(
                    run_night,
                    specs,
                    [detector] * len(specs),
                    [directory] * len(specs),
                    [settings] * len(specs),
                    [emg_only] * len(specs),
                )
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
    """Speed table: wall and CPU seconds, × real time and detector / floor (CPU-based)."""
    head = (
        f"{'night':<20} {'hours':>5} {'EMG Hz':>7} {'ch':>2} {'gen s':>6} {'gen cpu':>7} "
        f"{'det s':>7} {'det cpu':>7} {'det ×RT':>8} {'floor cpu':>9} {'floor ×RT':>9} "
        f"{'det/floor':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in result.nights:
        lines.append(
            f"{r.name:<20} {r.hours:>5.2f} {r.emg_rate_hz:>7g} {r.n_emg_channels:>2} "
            f"{_gen(r.generation_s):>6} {_gen(r.generation_cpu_s):>7} {r.detector_s:>7.2f} "
            f"{r.detector_cpu_s:>7.2f} {r.x_realtime:>8.0f} {r.floor_cpu_s:>9.2f} "
            f"{r.floor_x_realtime:>9.0f} {r.ratio:>9.1f}"
        )
    night_s = 3600.0 * sum(r.hours for r in result.nights)
    det = sum(r.detector_s for r in result.nights)
    det_cpu = sum(r.detector_cpu_s for r in result.nights)
    floor_cpu = sum(r.floor_cpu_s for r in result.nights)
    lines += [
        "-" * len(head),
        f"{'all':<20} {night_s / 3600:>5.1f} {'':>7} {'':>2} {'':>6} {'':>7} {det:>7.2f} "
        f"{det_cpu:>7.2f} {_div(night_s, det_cpu):>8.0f} {floor_cpu:>9.2f} "
        f"{_div(night_s, floor_cpu):>9.0f} {_div(det_cpu, floor_cpu):>9.1f}",
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


def detector_settings(config: Path | None, overrides: Sequence[str]) -> DetectorSettings | None:
    """``[detector]`` of ``config`` (defaults without one) with ``KEY=VALUE`` overrides, each
    checked for name, type and range; ``None`` when neither is given. :class:`ConfigError`."""
    if config is None and not overrides:
        return None
    base = load_settings(config).detector if config else DetectorSettings()
    values = parse_grid(overrides)
    several = [name for name, vals in values.items() if len(vals) != 1]
    if several:
        raise ConfigError(f"--set {several[0]}: one value, not several (that is tune's --grid)")
    return replace(base, **{name: vals[0] for name, vals in values.items()})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument(
        "--detector",
        default="naive",
        help="naive | pipeline | a command run as `CMD NIGHT.edf` printing event JSONL",
    )
    add_night_set_options(parser)
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML whose [detector] the pipeline gets"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one [detector] key of the pipeline (repeatable)",
    )
    parser.add_argument("-j", "--jobs", type=int, default=1, help="parallel processes")
    parser.add_argument(
        "--emg-only",
        action="store_true",
        help="declare every accelerometer block lost (an EMG-only recording, a failed IMU)",
    )
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="corpus cache directory")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write results as JSON")
    parser.add_argument(
        "--events-dir", type=Path, help="write each night's events JSONL here (for `score`)"
    )
    args = parser.parse_args(argv)
    specs = chosen_night_set(args)
    try:
        settings = detector_settings(args.config, args.set)
        result = run_corpus(
            specs, args.detector, args.cache, args.jobs, settings, emg_only=args.emg_only
        )
    except (InputError, ConfigError) as exc:
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
