"""``crampwatch export SESSION -o OUT.edf [--config F]``: a session recording as EDF+.

The recorded notifications are decoded and run through the detector exactly as
``crampwatch replay SESSION`` does (:func:`bedside.stream.session_feed.replay_session`); what goes
into the file:

* **Signals**: one per EMG channel (labels ``EMG calf medial`` …, unit ``uV``) and
  ``Accel X/Y/Z`` (unit ``g``). The physical range is the wearable's int16 range times its µV
  (g) per LSB, so each EDF digital value is the wearable's own count (lossless).
* **Time**: the EDF start is the session's stream time 0 (the daemon's ``session_start``), so
  annotation onsets equal the events' ``t_*`` and replaying the EDF gives the same stream times.
* **Gaps** (link drops) are EDF+D discontinuities: data records lie on a grid of
  :func:`record_duration` seconds from stream time 0, a record with no sample is left out (the
  next record's time-keeping TAL says where it lies). A record that a gap cuts in part keeps its
  received samples and is filled with physical 0 for the missing ones (at most one record on each
  side of a gap); the exact gap is the annotation ``gap N EMG samples`` (onset and duration).
* **Annotations**: every link event (``link connected address=… mtu=247``) at the stream time
  reached when it was recorded (so ``link disconnected`` sits at the start of its gap, whatever
  the speed of a virtual wearable; events before stream time 0 at 0), every gap, and the
  detector events:
  ``cramp_started N`` at ``t_detect`` and ``cramp N`` from ``t_onset`` lasting ``duration_s``
  (``cramp_update`` events are left out).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from bedside.config.settings import CONFIG_HELP, load_settings
from bedside.stream.build import DEFAULT_DETECTOR, detector_factory
from bedside.stream.edf_feed import is_session_file
from bedside.stream.records import EventRecord
from bedside.stream.session_feed import probe_session, replay_session
from detector.types import EventKind, FloatArray
from firmware_bridge.codec import Gap
from firmware_bridge.edf import EdfSignalSpec, EdfWriter, format_number
from firmware_bridge.errors import InputError
from firmware_bridge.protocol import DeviceInfo, emg_labels
from firmware_bridge.source import LinkEvent

log = logging.getLogger(__name__)

HELP = "export a session recording as EDF+ (signals, gaps as EDF+D, link and cramp annotations)"
TARGET_RECORD_S = 0.1  # short records: a gap wastes (fills) at most this much on either side
# EDF+ §2.2.4: each record's annotation signal holds the time-keeping TAL (~14 bytes) plus
# whatever annotations fit; 192 bytes fit one annotation of MAX_TEXT characters with its onset
# and duration (~27 bytes) per record (queued annotations spill into the next records), at
# 1.9 kB/s beside the 2–4 kB/s of samples of one or two EMG channels at 1 kHz.
ANNOTATION_BYTES = 192
MAX_TEXT = 140  # annotation texts are cut to this many characters (ASCII-safe)
WRITE_RECORDS = 600  # records handed to the EDF writer at once (a minute of 0.1-s records)
INT16 = (-32768, 32767)


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


def record_duration(info: DeviceInfo) -> float:
    """Data-record length (s): k accelerometer periods, ≥ TARGET_RECORD_S where possible, whose
    decimal text is exact (EDF header field of 8 characters) and holds whole EMG samples."""
    for k in range(1, info.accel_rate_hz + 1):
        text = format_number(k / info.accel_rate_hz)
        d = float(text)
        if d < TARGET_RECORD_S and k < info.accel_rate_hz:
            continue
        if (
            abs(d * info.accel_rate_hz - k) < 1e-9
            and abs(d * info.emg_rate_hz - round(d * info.emg_rate_hz)) < 1e-9
        ):
            return d
    return 1.0  # integer rates: one second always holds whole samples


def _signals(info: DeviceInfo) -> list[EdfSignalSpec]:
    uv, g = info.emg_uv_per_lsb, info.accel_g_per_lsb
    specs = [
        EdfSignalSpec(
            label=label,
            unit="uV",
            rate_hz=float(info.emg_rate_hz),
            physical_min=INT16[0] * uv,
            physical_max=INT16[1] * uv,
            transducer="surface EMG",
        )
        for label in emg_labels(info)
    ]
    specs += [
        EdfSignalSpec(
            label=f"Accel {axis}",
            unit="g",
            rate_hz=float(info.accel_rate_hz),
            physical_min=INT16[0] * g,
            physical_max=INT16[1] * g,
            transducer="accelerometer",
        )
        for axis in "XYZ"
    ]
    return specs


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


class GridWriter:
    """Stream samples → EDF+D data records on a fixed grid from stream time 0 (module docstring).

    ``add(emg (n_ch, n) µV, accel (3, m) g, emg_at, accel_at)`` takes blocks at stream sample
    indices, in increasing order; ``close()`` writes the last record.
    """

    def __init__(self, writer: EdfWriter, info: DeviceInfo, record_s: float) -> None:
        self._writer = writer
        self._n_ch = info.n_emg_channels
        self._r_emg = round(record_s * info.emg_rate_hz)
        self._r_acc = round(record_s * info.accel_rate_hz)
        self._record_s = record_s
        self._current: int | None = None  # grid index of the record being filled
        self._emg = np.zeros((self._n_ch, self._r_emg))
        self._acc = np.zeros((3, self._r_acc))
        self._filled_emg = 0
        self._next_written = 0  # grid index after the last record written or skipped
        self.records = 0
        self.skipped_records = 0
        self.filled_samples = 0  # EMG samples written as 0 in records a gap cuts
        self._done_emg: list[FloatArray] = []  # finished records, not yet written
        self._done_acc: list[FloatArray] = []

    def _open(self, index: int) -> None:
        if self._current is not None:
            self._flush()
        if index > self._next_written:
            self._write_out()  # skip() needs every record before the gap written
            self._writer.skip((index - self._next_written) * self._record_s)
            self.skipped_records += index - self._next_written
        self._current = index
        self._emg[:] = 0.0
        self._acc[:] = 0.0
        self._filled_emg = 0

    def _flush(self) -> None:
        assert self._current is not None
        self._done_emg.append(self._emg.copy())
        self._done_acc.append(self._acc.copy())
        if len(self._done_emg) >= WRITE_RECORDS:
            self._write_out()
        self.filled_samples += self._r_emg - self._filled_emg
        self.records += 1
        self._next_written = self._current + 1
        self._current = None

    def add(self, emg: FloatArray, accel: FloatArray, emg_at: int, accel_at: int) -> None:
        n, m = emg.shape[1], accel.shape[1]
        done_e = done_a = 0
        while done_e < n or done_a < m:
            # The record of the earliest sample not yet placed (accel k belongs to EMG k·ratio,
            # so both streams walk the grid together).
            rec_e = (emg_at + done_e) // self._r_emg if done_e < n else None
            rec_a = (accel_at + done_a) // self._r_acc if done_a < m else None
            rec = min(r for r in (rec_e, rec_a) if r is not None)
            if rec != self._current:
                if self._current is not None and rec < self._current:
                    raise ValueError(f"samples went back in time: record {rec} < {self._current}")
                self._open(rec)
            if rec_e == rec:
                off = emg_at + done_e - rec * self._r_emg
                take = min(self._r_emg - off, n - done_e)
                self._emg[:, off : off + take] = emg[:, done_e : done_e + take]
                self._filled_emg += take
                done_e += take
            if rec_a == rec:
                off = accel_at + done_a - rec * self._r_acc
                take = min(self._r_acc - off, m - done_a)
                self._acc[:, off : off + take] = accel[:, done_a : done_a + take]
                done_a += take

    def _write_out(self) -> None:
        if not self._done_emg:
            return
        emg = np.concatenate(self._done_emg, axis=1)
        acc = np.concatenate(self._done_acc, axis=1)
        self._done_emg, self._done_acc = [], []
        self._writer.write([*emg, *acc])

    def close(self) -> None:
        if self._current is not None:
            self._flush()
        self._write_out()


def export_session(
    session: Path,
    output: Path,
    *,
    settings_file: str | None = None,
    detector: str = DEFAULT_DETECTOR,
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
                _signals(info),
                start=start,
                record_duration_s=record_s,
                annotation_bytes_per_record=ANNOTATION_BYTES,
            )
        except OSError as exc:
            raise InputError(f"{output}: cannot write: {exc.strerror}", path=str(output)) from exc
        except ValueError as exc:  # e.g. a start outside EDF's 1985-2084 (a wrong clock)
            raise InputError(
                f"{session}: cannot be written as EDF+: {exc}", path=str(session)
            ) from exc
        state["writer"], state["start"] = writer, start
        state["grid"] = GridWriter(writer, info, record_s)
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
            annotate(
                record.t_onset,
                record.duration_s,
                f"cramp {number} (ended {record.t_end} s, peak {record.peak_intensity})",
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
        "skipped_records": grid.skipped_records,
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
    c = export_session(session, output, settings_file=args.config, detector=args.detector)
    print(
        f"{output}: EDF+ of {c['duration_s']:.1f} s in {c['records']} records of "
        f"{c['record_s']:g} s ({c['skipped_records']} left out in gaps, {c['filled_samples']} EMG "
        f"samples zero-filled); annotations: {c['link_events']} link events, {c['gaps']} gaps, "
        f"{c['events']} cramp events ({c['cramps']} cramps)",
        file=sys.stderr,
    )
    return 0
