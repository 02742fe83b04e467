"""``crampwatch calibrate (INPUT --rest A:B --contraction C:D | --address ADDR | --virtual EDF)
[--out FILE] [--leg L]``.

Measures the optional calibration (:mod:`detector.calibration`) from a recording in which the
sleeper lay with the leg relaxed (``--rest``, seconds from the start, at least
``calibration_rest_s``) and then pressed the ball of the foot down, moderately, for about 3 s
(``--contraction``). INPUT is an EDF/BDF file or a session recording (``crampwatch capture`` /
``run``). The result goes to ``<state_dir>/calibration-<leg>.json``, where the daemon picks it up
for that leg, or to ``--out``. A contraction that barely raises the calf EMG is refused with a
message (exit 65): the electrode is not over the contracting muscle.

Guided: ``--address ADDR`` connects to the wearable (stop the daemon first: a wearable takes one
connection), records :data:`GUIDED_S` seconds into ``<state_dir>/sessions/`` (kept, like every
recording) and prints what to do when (:data:`CUES`, timed from the first data received); then
the spans are :data:`GUIDED_REST` and :data:`GUIDED_CONTRACTION`. ``--virtual NIGHT.edf`` does
the same with the virtual wearable playing a recording (for tests and demos).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bedside.config.settings import CONFIG_HELP, Settings, load_settings
from bedside.live.capture import CaptureResult, Recorder, capture, virtual_finished
from bedside.live.virtual import require_virtual, start_from_spec
from bedside.stream.calibration_store import calibration_path, save_calibration
from bedside.stream.edf_feed import replay_file
from bedside.stream.session_feed import replay_session
from detector.calibration import CalibrationError, calibrate
from detector.pipeline import is_shin_label
from detector.types import DetectorEvent, FloatArray, PipelineStatistics, PipelineStatus, Quality
from firmware_bridge.ble_client import BleClient
from firmware_bridge.errors import InputError
from firmware_bridge.recording import is_session_file
from firmware_bridge.source import LinkEvent

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


# The guided schedule (seconds from the first data): settle, rest, a cue, the contraction, relax.
# The contraction is brief and moderate: a maximal one with the toes pointed brought on a cramp
# within 60 s in 31 % of people [VIC].
CUES: tuple[tuple[float, str], ...] = (
    (0.0, "Lie down, let the leg rest straight and relaxed, and keep still."),
    (21.0, "Now press the ball of your foot down, moderately, as on a pedal. Hold it."),
    (25.0, "And relax. Let the leg go loose."),
)
GUIDED_S = 30.0
GUIDED_REST = (3.0, 20.0)
GUIDED_CONTRACTION = (21.0, 30.0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("input", metavar="INPUT", nargs="?",
                        help="EDF/BDF file or session recording")
    source.add_argument("--address", metavar="ADDR",
                        help="guided: record from the wearable at this BLE address")
    source.add_argument("--virtual", metavar="NIGHT.edf",
                        help="guided, with the virtual wearable playing this EDF/BDF recording")
    parser.add_argument("--rest", metavar="A:B", type=_span,
                        help="seconds (from the start) with the leg lying relaxed (INPUT only)")
    parser.add_argument("--contraction", metavar="C:D", type=_span,
                        help="seconds covering the brief calf contraction (INPUT only)")
    parser.add_argument("--out", metavar="FILE",
                        help="where to write (default: <state_dir>/calibration-<leg>.json)")
    parser.add_argument("--leg", choices=("left", "right"),
                        help="leg (default: the recording's, else left)")
    parser.add_argument("--emg", metavar="LABEL", action="append",
                        help="EDF EMG channel label; repeat for several (default: 'EMG…')")
    parser.add_argument("--config", metavar="FILE", help=CONFIG_HELP)


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
    if args.input is not None:
        if args.rest is None or args.contraction is None:
            raise InputError("an INPUT recording needs --rest A:B and --contraction C:D")
        return _calibrate(settings, Path(args.input), args, args.rest, args.contraction)
    if args.rest is not None or args.contraction is not None:
        raise InputError("--rest/--contraction are for an INPUT recording; the guided "
                         f"recording uses {GUIDED_REST} and {GUIDED_CONTRACTION}")
    path = asyncio.run(_record_guided(args, settings))
    return _calibrate(settings, path, args, GUIDED_REST, GUIDED_CONTRACTION)


class _Cues:
    """Prints each cue when its time (from the first data received) has come; done after
    ``GUIDED_S`` of data."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._t0: float | None = None
        self._next = 0

    def __call__(self, link: BleClient, recorder: Recorder) -> bool:
        if recorder.notifications == 0:
            return False
        now = self._monotonic()
        if self._t0 is None:
            self._t0 = now
        while self._next < len(CUES) and now - self._t0 >= CUES[self._next][0]:
            print(f"[{CUES[self._next][0]:4.0f} s] {CUES[self._next][1]}", file=sys.stderr,
                  flush=True)
            self._next += 1
        return now - self._t0 >= GUIDED_S


async def _record_guided(args: argparse.Namespace, settings: Settings) -> Path:
    """Record the guided session into the state dir's sessions; return its path."""
    sessions = Path(settings.daemon.state_dir) / "sessions"
    sessions.mkdir(parents=True, exist_ok=True, mode=0o700)
    out = sessions / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-calibration.cwsession"
    stop = asyncio.Event()  # Ctrl-C ends the recording cleanly (then too short: said so)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        result = await _capture_guided(args, settings, out, stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    if result.notifications == 0:
        raise InputError(f"{out}: no data arrived from the wearable; is it on and in range "
                         "(and the daemon stopped)?", path=str(out))
    print(f"{out}: {result.notifications} notifications recorded", file=sys.stderr)
    return out


async def _capture_guided(args: argparse.Namespace, settings: Settings, out: Path,
                          stop: asyncio.Event) -> CaptureResult:
    if args.address is not None:
        wearable = dataclasses.replace(settings.wearable, address=args.address)

        def make(on_event: Callable[[LinkEvent], None]) -> BleClient:
            return BleClient(wearable, label="calibrate", on_event=on_event)

        return await capture(make, out, stop=stop, finished=_Cues(),
                             duration_s=GUIDED_S + 60.0)
    else:
        require_virtual("crampwatch calibrate --virtual")
        virtual = await start_from_spec(args.virtual, hours=GUIDED_S / 3600, profile="quiet",
                                        speed=None)
        try:
            return await capture(
                virtual.client_factory(settings.wearable, "calibrate"), out, stop=stop,
                finished=virtual_finished(lambda: virtual.wearable.statistics().sent,
                                          virtual.wearable.finished))
        finally:
            await virtual.wearable.stop()


def _calibrate(settings: Settings, path: Path, args: argparse.Namespace,
               rest: tuple[float, float], contraction: tuple[float, float]) -> int:
    collectors: list[SpanCollector] = []
    labels: list[str] = []

    def make(*, emg_rate_hz: float, accel_rate_hz: float, n_emg_channels: int,
             emg_labels: Sequence[str]) -> SpanCollector:
        labels.extend(emg_labels)
        collectors.append(SpanCollector((rest, contraction), emg_rate_hz=emg_rate_hz,
                                        n_emg_channels=n_emg_channels))
        return collectors[-1]

    if is_session_file(path):
        leg = replay_session(path, make_detector=make, leg=args.leg).leg
    else:
        leg = args.leg or "left"
        replay_file(path, make_detector=make, leg=leg, emg_labels=args.emg,
                    min_emg_rate_hz=settings.detector.min_emg_rate_hz)
    c = collectors[0]
    calf = [not is_shin_label(lab) for lab in labels]
    try:
        result = calibrate(c.span(0), c.span(1), c.emg_rate_hz, settings.detector,
                           calf=calf if any(calf) else None)
    except CalibrationError as exc:
        raise InputError(f"{path}: cannot calibrate: {exc}", path=str(path)) from exc
    out = Path(args.out) if args.out else calibration_path(settings.daemon.state_dir, leg)
    try:
        save_calibration(out, result, leg=leg, channels=labels, source=str(path),
                         measured=datetime.now(UTC).isoformat(timespec="seconds"))
    except OSError as exc:  # where to write is an argument, not the configuration: exit 65
        raise InputError(f"{out}: cannot write the calibration: {exc.strerror}",
                         path=str(out)) from None
    for lab, rest_uv, con_uv, ratio in zip(labels, result.rest_uv, result.contraction_uv,
                                           result.contraction_ratio, strict=True):
        print(f"{lab}: rest {rest_uv:.2f} µV, contraction {con_uv:.1f} µV ({ratio:.1f}×)",
              file=sys.stderr)
    print(f"{out}: calibration for the {leg} leg written", file=sys.stderr)
    return 0
