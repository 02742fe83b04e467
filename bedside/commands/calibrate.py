"""``crampwatch calibrate INPUT --rest A:B --contraction C:D [--out FILE] [--leg L]``.

Measures the optional calibration (:mod:`detector.calibration`) from a recording in which the
sleeper lay with the leg relaxed (``--rest``, seconds from the start, at least
``calibration_rest_s``) and then pressed the ball of the foot down, moderately, for about 3 s
(``--contraction``). INPUT is an EDF/BDF file or a session recording (``crampwatch capture`` /
``run``). The result goes to ``<state_dir>/calibration-<leg>.json``, where the daemon picks it up
for that leg, or to ``--out``. A contraction that barely raises the calf EMG is refused with a
message (exit 65): the electrode is not over the contracting muscle.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bedside.calibration_store import calibration_path, save_calibration
from bedside.replay import is_session_file, replay_file
from bedside.settings import load_settings
from detector.calibration import CalibrationError, calibrate
from detector.pipeline import SHIN_WORDS
from detector.types import DetectorEvent, FloatArray, PipelineStatistics, PipelineStatus, Quality
from firmware_bridge.errors import ConfigError, InputError

log = logging.getLogger(__name__)

HELP = "measure the optional calibration (leg at rest, then a brief calf contraction)"


def _span(text: str) -> tuple[float, float]:
    a, sep, b = text.partition(":")
    try:
        start, end = float(a), float(b)
    except ValueError:
        start = end = float("nan")
    if not sep or not (0.0 <= start < end < float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r}: expected START:END seconds, START < END")
    return start, end


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="INPUT", help="EDF/BDF file or session recording")
    parser.add_argument("--rest", metavar="A:B", type=_span, required=True,
                        help="seconds (from the start) with the leg lying relaxed")
    parser.add_argument("--contraction", metavar="C:D", type=_span, required=True,
                        help="seconds covering the brief calf contraction")
    parser.add_argument("--out", metavar="FILE",
                        help="where to write (default: <state_dir>/calibration-<leg>.json)")
    parser.add_argument("--leg", choices=("left", "right"),
                        help="leg (default: the recording's, else left)")
    parser.add_argument("--emg", metavar="LABEL", action="append",
                        help="EDF EMG channel label; repeat for several (default: 'EMG…')")
    parser.add_argument("--config", metavar="FILE", help="TOML configuration (default: built-in)")


class SpanCollector:
    """A :class:`detector.types.CrampDetector` that raises nothing and keeps the EMG samples of
    some spans (absolute sample index), so both replay paths (EDF and session) can feed it.
    Lost samples (``gap``) are kept as NaN: the quality gate then calls their frames unusable."""

    def __init__(self, spans: Sequence[tuple[float, float]], *, emg_rate_hz: float,
                 n_emg_channels: int) -> None:
        self.emg_rate_hz = emg_rate_hz
        self.n_emg_channels = n_emg_channels
        self.bounds = [(round(a * emg_rate_hz), round(b * emg_rate_hz)) for a, b in spans]
        self._parts: list[list[FloatArray]] = [[] for _ in spans]
        self._at = 0

    def _keep(self, block: FloatArray) -> None:
        n = block.shape[1]
        for (a, b), parts in zip(self.bounds, self._parts, strict=True):
            lo, hi = max(a, self._at), min(b, self._at + n)
            if hi > lo:
                parts.append(block[:, lo - self._at: hi - self._at].astype(np.float64))
        self._at += n

    def process(self, emg: FloatArray, accel: FloatArray) -> list[DetectorEvent]:
        self._keep(np.asarray(emg))
        return []

    def gap(self, emg_samples: int, accel_samples: int) -> list[DetectorEvent]:
        self._keep(np.full((self.n_emg_channels, emg_samples), np.nan))
        return []

    def finish(self) -> list[DetectorEvent]:
        return []

    def status(self) -> PipelineStatus:
        return PipelineStatus(t=self._at / self.emg_rate_hz, quality=Quality.NO_SIGNAL,
                              envelope_uv=0.0, rest_floor_uv=0.0, cramp_active=False,
                              posture="unknown")

    def statistics(self) -> PipelineStatistics:
        return PipelineStatistics(emg_samples=self._at, accel_samples=0, gaps=0, gap_samples=0,
                                  events=0, cramps=0, seconds_bad_quality=0.0)

    def span(self, i: int) -> FloatArray:
        """The samples of span ``i`` ``(n_ch, n)``; :class:`InputError` if the input ended
        inside it."""
        a, b = self.bounds[i]
        parts = self._parts[i]
        got = np.concatenate(parts, axis=1) if parts else np.zeros((self.n_emg_channels, 0))
        if got.shape[1] < b - a:
            have = self._at / self.emg_rate_hz
            raise InputError(f"the recording is {have:.1f} s long: the span "
                             f"{a / self.emg_rate_hz:g}-{b / self.emg_rate_hz:g} s is not in it")
        return got


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    path = Path(args.input)
    collectors: list[SpanCollector] = []
    labels: list[str] = []

    def make(*, emg_rate_hz: float, accel_rate_hz: float, n_emg_channels: int,
             emg_labels: Sequence[str]) -> SpanCollector:
        labels.extend(emg_labels)
        collectors.append(SpanCollector((args.rest, args.contraction), emg_rate_hz=emg_rate_hz,
                                        n_emg_channels=n_emg_channels))
        return collectors[-1]

    if is_session_file(path):
        from bedside.session_replay import replay_session

        leg = replay_session(path, make_detector=make, leg=args.leg).leg
    else:
        leg = args.leg or "left"
        replay_file(path, make_detector=make, leg=leg, emg_labels=args.emg,
                    min_emg_rate_hz=settings.detector.min_emg_rate_hz)
    c = collectors[0]
    calf = [not any(w in f" {lab.lower()}" for w in SHIN_WORDS) for lab in labels]
    try:
        result = calibrate(c.span(0), c.span(1), c.emg_rate_hz, settings.detector,
                           calf=calf if any(calf) else None)
    except CalibrationError as exc:
        raise InputError(f"{path}: cannot calibrate: {exc}", path=str(path)) from exc
    out = Path(args.out) if args.out else calibration_path(settings.daemon.state_dir, leg)
    try:
        save_calibration(out, result, leg=leg, channels=labels, source=str(path),
                         measured=datetime.now(UTC).isoformat(timespec="seconds"))
    except OSError as exc:
        raise ConfigError(f"{out}: cannot write the calibration: {exc.strerror}") from exc
    for lab, rest, con, ratio in zip(labels, result.rest_uv, result.contraction_uv,
                                     result.contraction_ratio, strict=True):
        print(f"{lab}: rest {rest:.2f} µV, contraction {con:.1f} µV ({ratio:.1f}×)",
              file=sys.stderr)
    print(f"{out}: calibration for the {leg} leg written", file=sys.stderr)
    return 0
