"""``crampwatch export SESSION -o OUT.edf [--config F] [--discontinuous]``: a session as EDF+.

The recorded notifications are decoded and run through the detector exactly as
``crampwatch replay SESSION`` does (:func:`bedside.stream.session_feed.replay_session`); what goes
into the file:

* **Signals** (:mod:`firmware_bridge.edf_writer`): one per EMG channel (``EMG calf med L`` …,
  unit ``uV``), ``MISC Accel X L``/``Y``/``Z`` (unit ``g``) and ``MISC Status L`` (zero-fill
  flags), labelled with the EDF+ signal type and the leg (docs/contracts.md, "EDF files").
  Each EDF digital value is the wearable's own count (lossless).
* **Time**: the EDF start is the session's stream time 0 (the daemon's ``session_start``), so
  annotation onsets equal the events' ``t_*`` and replaying the EDF gives the same stream times.
* **Gaps** (link drops): data records lie on a grid of
  :func:`~firmware_bridge.edf_writer.record_duration` seconds from stream time 0 and the
  missing samples are zero-filled and flagged in the status signal: one continuous EDF+C file,
  which pyedflib, MNE and edfio all read with every annotation in place. ``--discontinuous``
  leaves records with no sample out instead (EDF+D; the next record's time-keeping TAL says
  where it lies). Either way the exact gap is the annotation ``gap N EMG samples`` (onset and
  duration).
* **Annotations**: every link event (``link connected address=… mtu=247``) at the stream time
  reached when it was recorded (so ``link disconnected`` sits at the start of its gap, whatever
  the speed of a virtual wearable; events before stream time 0 at 0), every gap, and the
  detector events:
  ``cramp_started N`` at ``t_detect`` and ``cramp N`` from ``t_onset`` lasting ``duration_s``
  (``cramp_update`` events are left out).
* **Recording field** (EDF+ §2.1.3.3): ``Startdate … X X crampwatch_<version>_wearable_fw<a.b.c>``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from bedside.config.settings import CONFIG_HELP, load_settings
from bedside.stream.build import DEFAULT_DETECTOR, detector_factory
from bedside.stream.records import EventRecord
from bedside.stream.session_feed import probe_session, replay_session
from detector.types import EventKind, FloatArray
from firmware_bridge.codec import Gap
from firmware_bridge.edf import EdfWriter
from firmware_bridge.edf_writer import GridWriter, equipment, record_duration, signal_specs
from firmware_bridge.errors import InputError
from firmware_bridge.recording import is_session_file
from firmware_bridge.source import LinkEvent

log = logging.getLogger(__name__)

HELP = "export a session recording as EDF+ (signals, zero-filled gaps, link and cramp annotations)"
# EDF+ §2.2.4: each record's annotation signal holds the time-keeping TAL (~14 bytes) plus
# whatever annotations fit; 192 bytes fit one annotation of MAX_TEXT characters with its onset
# and duration (~27 bytes) per record (queued annotations spill into the next records), at
# 1.9 kB/s beside the 2–4 kB/s of samples of one or two EMG channels at 1 kHz.
ANNOTATION_BYTES = 192
MAX_TEXT = 140  # annotation texts are cut to this many characters (ASCII-safe)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", metavar="SESSION", help="session recording (run/capture)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.edf", help="EDF+ file")
    parser.add_argument("--config", metavar="FILE", help=CONFIG_HELP)
    parser.add_argument(
        "--detector",
        metavar="MODULE:CALLABLE",
        default=DEFAULT_DETECTOR,
        help=f"detector for the cramp annotations (default: {DEFAULT_DETECTOR})",
    )
    parser.add_argument(
        "--discontinuous",
        action="store_true",
        help="EDF+D: leave records lost in link gaps out instead of zero-filling them (some "
        "readers refuse EDF+D or misplace annotations after a gap)",
    )


def _describe(value: object) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} B>"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def link_text(kind: str, fields: Mapping[str, Any]) -> str:
    """``link connected address=F0:… mtu=247`` (bytes shown as their length)."""
    parts = [f"link {kind}"] + [f"{k}={_describe(v)}" for k, v in sorted(fields.items())]
    return " ".join(parts)


def _clean(text: str) -> str:
    ascii_text = text.encode("ascii", "replace").decode().replace("\x00", " ")
    ascii_text = ascii_text.replace("\x14", " ").replace("\x15", " ")
    return ascii_text[:MAX_TEXT]


def export_session(
    session: Path,
    output: Path,
    *,
    settings_file: str | None = None,
    detector: str = DEFAULT_DETECTOR,
    continuous: bool = True,
) -> dict[str, Any]:
    """Write ``output`` (EDF+) from ``session``; returns counts for the summary line."""
    settings = load_settings(settings_file)
    make_detector = detector_factory(settings.detector, spec=detector)
    info = probe_session(session).info
    record_s = record_duration(info)
    state: dict[str, Any] = {
        "writer": None,
        "grid": None,
        "start": None,
        "pending": [],
        "stream_end": 0,
    }
    counts = {"link_events": 0, "gaps": 0, "events": 0}

    def annotate(onset_s: float, duration_s: float | None, text: str) -> None:
        writer: EdfWriter | None = state["writer"]
        assert writer is not None, "gaps and detector events come after stream time 0"
        writer.annotate(max(0.0, onset_s), duration_s, _clean(text))

    def on_start(start: datetime) -> None:
        try:
            writer = EdfWriter(
                output,
                signal_specs(info),
                start=start,
                record_duration_s=record_s,
                equipment=equipment(info),
                annotation_bytes_per_record=ANNOTATION_BYTES,
            )
        except OSError as exc:
            raise InputError(f"{output}: cannot write: {exc.strerror}", path=str(output)) from exc
        except ValueError as exc:  # e.g. a start outside EDF's 1985-2084 (a wrong clock)
            raise InputError(
                f"{session}: cannot be written as EDF+: {exc}", path=str(session)
            ) from exc
        state["writer"], state["start"] = writer, start
        state["grid"] = GridWriter(writer, info, record_s, continuous=continuous)
        for text in state["pending"]:  # link events before stream time 0
            annotate(0.0, None, text)
        state["pending"] = []

    def on_link_event(event: LinkEvent) -> None:
        counts["link_events"] += 1
        text = link_text(event.kind, event.fields)
        if state["start"] is None:
            state["pending"].append(text)
        else:  # where the stream was when it happened (module docstring)
            annotate(state["stream_end"] / info.emg_rate_hz, None, text)

    def on_samples(emg: FloatArray, accel: FloatArray, emg_at: int, accel_at: int) -> None:
        state["grid"].add(emg, accel, emg_at, accel_at)
        state["stream_end"] = emg_at + emg.shape[1]

    def on_gap(gap: Gap, emg_at: int) -> None:
        counts["gaps"] += 1
        state["stream_end"] = emg_at + gap.emg_samples_missing
        rate = info.emg_rate_hz
        annotate(
            emg_at / rate,
            gap.emg_samples_missing / rate,
            f"gap {gap.emg_samples_missing} EMG samples ({gap.accel_samples_missing} accel)",
        )

    def on_event(record: EventRecord) -> None:
        number = record.stem.rsplit(":", 1)[-1]
        if record.kind is EventKind.CRAMP_STARTED and record.t_detect is not None:
            counts["events"] += 1
            annotate(
                record.t_detect,
                None,
                f"cramp_started {number} onset {record.t_onset} s "
                f"intensity {record.intensity}",
            )
        elif record.closes:
            counts["events"] += 1
            how = "ended" if record.kind is EventKind.CRAMP_ENDED else "recorded after it ended"
            annotate(
                record.t_onset,
                record.duration_s,
                f"cramp {number} ({how} {record.t_end} s, peak {record.peak_intensity})",
            )

    try:
        result = replay_session(
            session,
            make_detector=make_detector,
            on_event=on_event,
            on_samples=on_samples,
            on_gap=on_gap,
            on_link_event=on_link_event,
            on_start=on_start,
        )
    finally:
        if state["grid"] is not None:
            state["grid"].close()
        if state["writer"] is not None:
            state["writer"].close()
    if state["writer"] is None:
        raise InputError(f"{session}: no decodable samples; nothing to export", path=str(session))
    grid: GridWriter = state["grid"]
    return {
        "duration_s": result.duration_s,
        "records": grid.records,
        "empty_records": grid.empty_records,
        "edf_type": "EDF+C" if continuous else "EDF+D",
        "filled_samples": grid.filled_samples,
        "record_s": record_s,
        "cramps": sum(e.kind is EventKind.CRAMP_STARTED for e in result.events),
        **counts,
    }


def run(args: argparse.Namespace) -> int:
    session, output = Path(args.session), Path(args.output)
    if output.resolve() == session.resolve():
        raise InputError(f"{output}: is the session itself; choose another output")
    if not is_session_file(session):
        raise InputError(f"{session}: not a crampwatch session recording", path=str(session))
    c = export_session(
        session,
        output,
        settings_file=args.config,
        detector=args.detector,
        continuous=not args.discontinuous,
    )
    empty = "left out" if args.discontinuous else "zero-filled"
    print(
        f"{output}: {c['edf_type']} of {c['duration_s']:.1f} s in {c['records']} records of "
        f"{c['record_s']:g} s ({c['empty_records']} {empty} in gaps, {c['filled_samples']} EMG "
        f"samples zero-filled); annotations: {c['link_events']} link events, {c['gaps']} gaps, "
        f"{c['events']} cramp events ({c['cramps']} cramps)",
        file=sys.stderr,
    )
    return 0
