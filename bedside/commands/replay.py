"""``crampwatch replay INPUT... [--config F] [--events OUT] [--truth TRUTH] [--plot OUT.png]``.

Streams EDF/EDF+/BDF/BDF+ files through the detector a minute at a time and writes one event JSON
per line to stdout (or ``--events``); logs and the per-file summary go to stderr. Several INPUT
files are replayed one after the other, each as its own session (its own ``event_id`` stem).
With ``--truth`` (one per INPUT, in order) the scorer's table is printed: on stdout when the
events go to a file, else on stderr so stdout stays pure JSONL. All inputs (headers, channels,
rates, truth durations) are checked before the first one is replayed.

An INPUT that is a session recording (``crampwatch run``/``capture``; told by its magic bytes) is
replayed from its raw notifications through the live codec and detector wiring
(:mod:`bedside.stream.session_feed`): the events equal those the daemon produced.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from bedside.config.settings import CONFIG_HELP, load_settings
from bedside.offline.labels import load_truth
from bedside.offline.plot import plot_replay
from bedside.offline.scoring import CorpusScore, aggregate, format_table, score_night, to_dict
from bedside.offline.truth import checked_truth
from bedside.stream.build import DEFAULT_DETECTOR, DetectorFactory, detector_factory
from bedside.stream.calibration_store import load_calibration
from bedside.stream.edf_feed import (
    ChannelSelection,
    ReplayResult,
    replay_file,
    select_channels,
)
from bedside.stream.night import night_name
from bedside.stream.records import EventRecord, dumps
from bedside.stream.session_feed import (
    SessionReplayResult,
    probe_session,
    replay_session,
    summary_line,
)
from firmware_bridge.edf import EdfReader
from firmware_bridge.errors import ConfigError, InputError
from firmware_bridge.recording import is_session_file

log = logging.getLogger(__name__)

HELP = "replay EDF/BDF recordings or raw session files through the detector; events as JSON lines"
DEFAULT_LEG = "left"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="EDF, EDF+, BDF or BDF+ file, or a session recording (crampwatch run/capture)",
    )
    parser.add_argument("--config", metavar="FILE", help=CONFIG_HELP)
    parser.add_argument("--events", metavar="OUT.jsonl", help="write events here, not to stdout")
    parser.add_argument(
        "--truth",
        metavar="TRUTH.json",
        action="append",
        help="simulator truth for scoring; give it once per INPUT, in the same order",
    )
    parser.add_argument("--plot", metavar="OUT.png", help="envelope/events figure (matplotlib)")
    parser.add_argument(
        "--calibration",
        metavar="FILE",
        help="calibration JSON (crampwatch calibrate) seeding the rest floor; its channels "
        "must be the replayed EMG channels",
    )
    parser.add_argument(
        "--emg",
        metavar="LABEL",
        action="append",
        help="EMG channel label; repeat for several (default: every label starting 'EMG')",
    )
    parser.add_argument(
        "--accel",
        metavar="LABEL",
        nargs=3,
        help="accelerometer X Y Z labels (default: 'Acc…X/Y/Z'; none found: EMG only)",
    )
    parser.add_argument(
        "--leg",
        choices=("left", "right"),
        help=f"leg for the events (default: the truth's subject.leg, else {DEFAULT_LEG})",
    )
    parser.add_argument(
        "--detector",
        metavar="MODULE:CALLABLE",
        default=DEFAULT_DETECTOR,
        help="detector class, called as C(detector_settings, emg_rate_hz=, accel_rate_hz=, "
        f"n_emg_channels=) (default: {DEFAULT_DETECTOR})",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the summary (and the score with --truth) as one JSON object on stdout; "
        "needs --events, as stdout otherwise carries the events",
    )


def _check_truth(truth: dict[str, Any], truth_path: Path, reader: EdfReader) -> None:
    """Refuse a bad truth file, or one whose night is not this recording's length (± a record)."""
    checked_truth(truth, truth_path)
    duration = truth.get("duration_s")
    if not isinstance(duration, int | float) or isinstance(duration, bool):
        raise InputError(f"{truth_path}: no numeric 'duration_s'", path=str(truth_path))
    slack = reader.record_duration_s + 1e-6
    too_long = reader.duration_s > duration + slack
    too_short = reader.duration_s < duration - slack and not reader.is_discontinuous
    if too_long or too_short:
        raise InputError(
            f"mismatched durations: {reader.path} holds {reader.duration_s:g} s but "
            f"{truth_path} describes {duration:g} s",
            path=str(truth_path),
        )


class _Progress:
    """A one-line bar on stderr, only when stderr is a terminal."""

    def __init__(self, name: str, stream: IO[str]) -> None:
        self._name, self._stream, self._last = name, stream, -1

    def __call__(self, fraction: float) -> None:
        pct = int(fraction * 100)
        if pct == self._last:
            return
        self._last = pct
        bar = "#" * (pct // 4)
        self._stream.write(f"\r{self._name} [{bar:<25}] {pct:3d}%")
        self._stream.flush()

    def done(self) -> None:
        if self._last >= 0:
            self._stream.write("\r\033[K")
            self._stream.flush()


def _plot_path(plot: Path, input_path: Path, several: bool) -> Path:
    if not several:
        return plot
    return plot.with_name(f"{plot.stem}-{input_path.name.split('.')[0]}{plot.suffix}")


def _summary(result: ReplayResult) -> str:
    stats = result.statistics
    kinds = [e.kind.value for e in result.events]
    return (
        f"{result.path}: session {result.session_id}: {result.duration_s / 3600:.2f} h in "
        f"{result.wall_s:.2f} s ({result.speed:,.0f}× real time); "
        f"{kinds.count('cramp_started')} cramps, {len(kinds)} events; "
        f"{result.gaps} gaps in the file; detector: {stats.gaps} gaps, "
        f"{stats.seconds_bad_quality:.0f} s bad signal"
        + (
            f", {stats.seconds_without_accel:.0f} s without accelerometer data (blind)"
            if stats.seconds_without_accel
            else ""
        )
        + (
            f"; rest floor {stats.floor_vs_calibration:.2f}× the calibrated rest"
            if stats.floor_vs_calibration
            else ""
        )
    )


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `replay ... | head`


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except BrokenPipeError:
        # the reader of stdout went away: stop quietly, and keep Python's exit-time flush quiet
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _summary_json(result: ReplayResult | SessionReplayResult) -> dict[str, Any]:
    """What :func:`_summary` / ``summary_line`` say, as JSON (times in s)."""
    kinds = [e.kind.value for e in result.events]
    out: dict[str, Any] = {
        "path": str(result.path), "session_id": result.session_id,
        "duration_s": result.duration_s, "wall_s": round(result.wall_s, 3),
        "cramps": kinds.count("cramp_started"), "events": len(kinds),
        "detector": dataclasses.asdict(result.statistics),
    }
    if isinstance(result, SessionReplayResult):
        out |= {"leg": result.leg, "notifications": result.read.notifications,
                "gaps": result.stream.gaps,
                "missing_emg_samples": result.stream.missing_emg_samples,
                "link_drops": result.drops, "bad_frames": result.decoder.bad_frames,
                "truncated_tail_bytes": result.read.truncated_tail_bytes,
                "corrupt_records": result.read.corrupt_records}
    else:
        out |= {"gaps": result.gaps, "recorded_s": result.recorded_s}
    return out


def _run(args: argparse.Namespace) -> int:
    if args.json and not args.events:
        print("crampwatch replay: --json needs --events OUT.jsonl (stdout would carry the "
              "events)", file=sys.stderr)
        return 2
    settings = load_settings(args.config)
    inputs = [Path(p) for p in args.inputs]
    truths = [Path(p) for p in args.truth or []]
    if truths and len(truths) != len(inputs):
        raise InputError(
            f"--truth given {len(truths)} times for {len(inputs)} INPUT files; give one per INPUT"
        )
    # Check every input before replaying the first: a typo in file 3 should not cost an hour.
    # Readers hold no open file, so keeping one per input costs only its header.
    truth_data: list[dict[str, Any] | None] = []
    checked: list[tuple[EdfReader, ChannelSelection] | None] = []  # None: a session recording
    for i, path in enumerate(inputs):
        if is_session_file(path):
            _check_session(path, args, truths[i] if truths else None, truth_data)
            checked.append(None)
            continue
        reader = EdfReader(path)
        channels = select_channels(
            reader,
            emg_labels=args.emg,
            accel_labels=args.accel,
            min_emg_rate_hz=settings.detector.min_emg_rate_hz,
        )
        checked.append((reader, channels))
        if truths:
            truth_json = load_truth(truths[i])
            _check_truth(truth_json, truths[i], reader)
            truth_data.append(truth_json)
        else:
            truth_data.append(None)
    calibration = load_calibration(args.calibration) if args.calibration else None
    make_detector = detector_factory(settings.detector, calibration, args.detector)

    results: list[ReplayResult | SessionReplayResult] = []
    with ExitStack() as stack:
        out: IO[str] = sys.stdout
        if args.events:
            try:
                out = stack.enter_context(Path(args.events).open("w", encoding="utf-8"))
            except OSError as exc:
                raise InputError(f"{args.events}: cannot write: {exc.strerror}") from exc

        def on_event(record: EventRecord) -> None:
            out.write(dumps(record) + "\n")
            out.flush()

        for path, edf, truth in zip(inputs, checked, truth_data, strict=True):
            bar = _Progress(path.name, sys.stderr) if sys.stderr.isatty() else None
            if edf is None:
                results.append(_replay_session(path, args, make_detector, truth, on_event, bar))
                continue
            reader, channels = edf
            leg = args.leg or _truth_leg(truth) or DEFAULT_LEG
            try:
                result = replay_file(
                    reader,
                    channels=channels,
                    make_detector=make_detector,
                    leg=leg,
                    on_event=on_event,
                    progress=bar,
                    overview=bool(args.plot),
                )
            finally:
                if bar is not None:
                    bar.done()
            log.info("%s", _summary(result))
            results.append(result)
            if args.plot:
                target = _plot_path(Path(args.plot), path, len(inputs) > 1)
                plot_replay(result, target, truth)
                log.info("%s: plot written to %s", path, target)
    corpus = _score(results, truth_data, truths) if truths else None
    if args.json:
        summary = {"inputs": [_summary_json(r) for r in results],
                   "score": to_dict(corpus) if corpus is not None else None}
        json.dump(summary, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    elif corpus is not None:
        print(format_table(corpus), file=sys.stdout if args.events else sys.stderr)
    return 0


def _check_session(
    path: Path,
    args: argparse.Namespace,
    truth_path: Path | None,
    truth_data: list[dict[str, Any] | None],
) -> None:
    """Refuse EDF-only options for a session; check its header, device info and truth."""
    for flag, value in (("--plot", args.plot), ("--emg", args.emg), ("--accel", args.accel)):
        if value:
            raise InputError(
                f"{path}: is a session recording; {flag} applies to EDF/BDF inputs only",
                path=str(path),
            )
    probe_session(path)
    if truth_path is None:
        truth_data.append(None)
        return
    truth_data.append(checked_truth(load_truth(truth_path), truth_path))


def _replay_session(
    path: Path,
    args: argparse.Namespace,
    make_detector: DetectorFactory,
    truth: dict[str, Any] | None,
    on_event: Callable[[EventRecord], None],
    bar: _Progress | None,
) -> SessionReplayResult:
    recorded = probe_session(path).calibration if not args.calibration else None
    if recorded is not None:  # the daemon's events came from a calibrated detector
        try:
            make_detector = detector_factory(
                load_settings(args.config).detector, recorded, args.detector)
            log.info("%s: using the calibration recorded with the session", path)
        except ConfigError as exc:
            log.warning("%s: recorded calibration not used: %s", path, exc)
    try:
        result = replay_session(
            path,
            make_detector=make_detector,
            leg=args.leg or _truth_leg(truth),
            on_event=on_event,
            progress=bar,
        )
    finally:
        if bar is not None:
            bar.done()
    log.info("%s", summary_line(result))
    return result


def _truth_leg(truth: dict[str, Any] | None) -> str | None:
    if truth is None:
        return None
    subject = truth.get("subject")
    leg = subject.get("leg") if isinstance(subject, dict) else None
    return leg if leg in ("left", "right") else None


def _score(
    results: list[ReplayResult | SessionReplayResult],
    truths: list[dict[str, Any] | None],
    paths: list[Path],
) -> CorpusScore:
    scores = []
    for result, truth, path in zip(results, truths, paths, strict=True):
        assert truth is not None
        try:
            scores.append(score_night(truth, [e.to_json() for e in result.events],
                                      name=night_name(path)))
        except ValueError as exc:
            raise InputError(f"{path}: {exc}", path=str(path)) from exc
    return aggregate(scores)
