"""Session replay: a recorded night's raw notifications through the live codec → detector wiring.

A session file (``firmware_bridge.recording``) holds every notification as it arrived and the
link events around them. Replaying it runs the same :class:`~firmware_bridge.codec.Decoder` and
the same frames → detector rules as the live daemon (:class:`PacketFeed`, the rules of
``bedside.live.daemon.LegWorker``), so the events equal what the daemon produced that night:

* stream time 0 is the first EMG sample that has its accelerometer sample
  (``first_accel_index * accel_ratio`` of the first frame, PROTOCOL.md §2.3);
* a codec ``Gap`` (a link drop) becomes ``detector.gap(emg_missing, accel_missing)``;
* ``Reset`` and ``BadFrame`` are counted, never fed.

What replay needs besides the notifications comes from the recording's link events
(:func:`probe_session`): the device info bytes (``device_info`` event with a ``data`` field,
written by the daemon and by ``crampwatch capture``), the daemon's session id and wearable label
(same event) and the stream origin's wall clock (``stream_origin`` event). A recording without a
``stream_origin`` (a capture) takes it as the daemon would have: receive time of the first frame
minus its duration. A file cut by a power failure replays up to the last complete record.

Bad input raises :class:`~firmware_bridge.errors.InputError` or
:class:`~firmware_bridge.errors.RecordingError` (both exit 65).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bedside.stream.build import DetectorFactory, for_device
from bedside.stream.edf_feed import session_id_for
from bedside.stream.feed import StreamFeed
from bedside.stream.records import EventRecord
from detector.calibration import Calibration, CalibrationError
from detector.types import FloatArray, PipelineStatistics
from firmware_bridge.codec import BadFrame, Decoder, DecoderStatistics, Frame, Gap, Reset
from firmware_bridge.errors import InputError
from firmware_bridge.protocol import DeviceInfo, InvalidDeviceInfoError, leg_name
from firmware_bridge.recording import ReadReport, RecordingSource, is_session_file, read_session
from firmware_bridge.source import LinkEvent, RawPacket

log = logging.getLogger(__name__)

# The daemon records its device_info right after the first notification and stream_origin with
# the first frame; a capture records device_info before any. A few thousand records (a couple of
# minutes of a night) is far more than either needs and still costs only milliseconds.
PROBE_RECORDS = 5000
DROP_KINDS = frozenset({"disconnected", "silence"})  # link events that mean the stream stopped
BATCH_S = 60.0  # house-style §2: offline replay runs the pipeline a minute at a time

SamplesCallback = Callable[[FloatArray, FloatArray, int, int], None]
GapCallback = Callable[[Gap, int], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionProbe:
    """What the link events of a session say about it (None: not recorded).

    ``session_start``: wall clock (aware, UTC) of stream time 0 as the daemon took it;
    ``device_emg_index``: the wearable's EMG index of stream time 0.
    """

    info: DeviceInfo
    session_id: str | None
    label: str | None
    session_start: datetime | None
    device_emg_index: int | None
    file_start: datetime
    calibration: Calibration | None = None  # the one the daemon used (recorded with the info)


def _text(fields: Mapping[str, Any], key: str) -> str | None:
    value = fields.get(key)
    return value if isinstance(value, str) and value else None


def probe_session(
    path: str | os.PathLike[str], *, max_records: int = PROBE_RECORDS
) -> SessionProbe:
    """Find the device info, session id, label and stream origin in a session's first records.

    Raises :class:`InputError` when no ``device_info`` event with ``data`` bytes is among the
    first ``max_records`` records (the notifications cannot be decoded without it).
    """
    info: DeviceInfo | None = None
    session_id = label = None
    calibration: Calibration | None = None
    start: datetime | None = None
    origin: int | None = None
    since_info = 0
    with read_session(path) as reader:
        file_start = reader.info.session_start
        for n, record in enumerate(reader):
            if n >= max_records or (info is not None and start is not None):
                break
            if info is not None:
                since_info += 1
                if since_info > 500:  # a capture: no stream_origin will come
                    break
            if not isinstance(record, LinkEvent):
                continue
            fields = record.fields
            data = fields.get("data")
            if record.kind == "device_info" and info is None and isinstance(data, bytes):
                try:
                    info = DeviceInfo.from_bytes(data)
                except InvalidDeviceInfoError as exc:
                    raise InputError(
                        f"{path}: recorded device info is invalid: {exc}", path=str(path)
                    ) from exc
                session_id = _text(fields, "session_id")
                label = _text(fields, "label")
                calibration = _recorded_calibration(path, fields.get("calibration"))
            elif record.kind == "stream_origin" and start is None:
                text = _text(fields, "session_start")
                index = fields.get("device_emg_index")
                try:
                    start = datetime.fromisoformat(text) if text else None
                except ValueError:
                    log.warning("%s: unreadable stream_origin time %r", path, text)
                if start is not None and start.tzinfo is None:
                    start = start.replace(tzinfo=UTC)
                origin = index if isinstance(index, int) else None
    if info is None:
        raise InputError(
            f"{path}: no device info (a 'device_info' link event with the bytes) in the first "
            f"{max_records} records; the notifications cannot be decoded without it "
            "(recorded by crampwatch capture and by the daemon since session replay exists)",
            path=str(path),
        )
    return SessionProbe(
        info=info,
        session_id=session_id,
        label=label,
        session_start=start,
        device_emg_index=origin,
        file_start=file_start,
        calibration=calibration,
    )


def _recorded_calibration(path: str | os.PathLike[str], data: Any) -> Calibration | None:
    if data is None:
        return None
    try:
        if not isinstance(data, dict):
            raise CalibrationError("not a JSON object")
        return Calibration.from_dict(data)
    except CalibrationError as exc:
        log.warning("%s: the recorded calibration is unusable (%s); replaying without", path, exc)
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamStatistics:
    """Counts of :class:`PacketFeed`: decoded items by kind and EMG samples declared lost."""

    frames: int
    gaps: int
    missing_emg_samples: int
    resets: int
    bad_frames: int
    emg_samples: int  # stream length in EMG samples (fed + declared lost)


class PacketFeed:
    """Decoded items of one wearable → a :class:`StreamFeed`: the live daemon's rules, for any
    source (the live worker and session replay both use it, so a replay equals the live run).

    ``on_origin(n)`` is called once, at the first frame, with the number of its EMG samples
    from stream time 0 on (the daemon takes the wall clock there). ``on_samples(emg, accel,
    emg_at, accel_at)`` sees every fed block: ``emg`` (n_ch, n) µV from stream EMG index
    ``emg_at``, ``accel`` (3, m) g from stream accelerometer index ``accel_at``; ``on_gap(gap,
    emg_at)`` every gap after stream time 0. ``label`` prefixes the log lines.
    """

    def __init__(
        self,
        info: DeviceInfo,
        feed: StreamFeed,
        *,
        on_origin: Callable[[int], None] | None = None,
        on_samples: SamplesCallback | None = None,
        on_gap: GapCallback | None = None,
        label: str = "",
    ) -> None:
        self.info = info
        self._prefix = f"{label}: " if label else ""  # for log lines (the daemon's wearable)
        self.feed = feed
        self.detector = feed.detector
        self._on_origin = on_origin
        self._on_samples = on_samples
        self._on_gap = on_gap
        self._ratio = info.accel_ratio
        self.base_emg_index: int | None = None  # device EMG index of stream time 0
        self._frames = self._gaps = self._missing = self._resets = self._bad = 0
        self._emg_end = 0  # stream EMG index after the last fed or lost sample

    def handle(self, item: Frame | Gap | Reset | BadFrame) -> None:
        """Feed one decoder item (in decoder order)."""
        if isinstance(item, Frame):
            emg, accel = item.emg, item.accel
            if self.base_emg_index is None:
                # Stream time 0 = the first EMG sample that has its accelerometer sample, so both
                # streams start together (PROTOCOL.md §2.3: accel k belongs to EMG k·ratio).
                self.base_emg_index = item.first_accel_index * self._ratio
                emg = emg[:, self.base_emg_index - item.first_emg_index :]
                if self._on_origin is not None:
                    self._on_origin(emg.shape[1])
            base = self.base_emg_index
            emg_at = item.first_emg_index - base + (item.emg.shape[1] - emg.shape[1])
            self._frames += 1
            self._emg_end = emg_at + emg.shape[1]
            if self._on_samples is not None:
                self._on_samples(emg, accel, emg_at, item.first_accel_index - base // self._ratio)
            self.feed.process(emg, accel)
        elif isinstance(item, Gap):
            self._gaps += 1
            self._missing += item.emg_samples_missing
            log.info(
                "%sgap of %d EMG samples at index %d",
                self._prefix,
                item.emg_samples_missing,
                item.at_index,
            )
            if self.base_emg_index is not None:
                emg_at = item.at_index - self.base_emg_index
                self._emg_end = emg_at + item.emg_samples_missing
                if self._on_gap is not None:
                    self._on_gap(item, emg_at)
                self.feed.gap(item.emg_samples_missing, item.accel_samples_missing)
        elif isinstance(item, Reset):
            self._resets += 1
            log.warning("%sthe wearable's sample index restarted (reboot?)", self._prefix)
        else:
            self._bad += 1
            log.debug("%sbad frame (%s, %d B)", self._prefix, item.reason, item.size)

    def finish(self) -> None:
        """End of stream: the detector closes what is open (a cramp still running)."""
        self.feed.finish()

    def statistics(self) -> StreamStatistics:
        return StreamStatistics(
            frames=self._frames,
            gaps=self._gaps,
            missing_emg_samples=self._missing,
            resets=self._resets,
            bad_frames=self._bad,
            emg_samples=self._emg_end,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionReplayResult:
    """What replaying one session gave; ``duration_s`` is stream time (gaps included)."""

    path: Path
    session_id: str
    leg: str
    start: datetime
    info: DeviceInfo
    duration_s: float
    events: list[EventRecord]
    statistics: PipelineStatistics
    stream: StreamStatistics
    decoder: DecoderStatistics
    read: ReadReport
    link_events: int
    drops: int
    wall_s: float

    @property
    def speed(self) -> float:
        """Stream seconds replayed per wall-clock second (× real time)."""
        return self.duration_s / self.wall_s if self.wall_s > 0 else math.inf


def replay_session(
    path: str | os.PathLike[str],
    *,
    make_detector: DetectorFactory,
    leg: str | None = None,
    session_id: str | None = None,
    on_event: Callable[[EventRecord], None] | None = None,
    on_samples: SamplesCallback | None = None,
    on_gap: GapCallback | None = None,
    on_link_event: Callable[[LinkEvent], None] | None = None,
    on_start: Callable[[datetime], None] | None = None,
    progress: Callable[[float], None] | None = None,
    batch_s: float = BATCH_S,
) -> SessionReplayResult:
    """Replay one session file through a fresh detector from ``make_detector``.

    ``leg``/``session_id`` default to what the daemon used (recorded), else the device info's leg
    and a name from the file. ``on_event`` gets each event JSON object as it appears;
    ``on_samples``/``on_gap`` see the stream (see :class:`PacketFeed`); ``on_link_event``
    each recorded link event; ``on_start(session_start)`` is called once stream time 0 is known
    (before any samples); ``progress`` the fraction of the file read. Contiguous frames reach
    the detector in blocks of about ``batch_s`` (0: one call per notification, as live). Raises
    :class:`InputError`/:class:`RecordingError` for unusable files.
    """
    t0 = time.perf_counter()
    p = Path(path)
    probe = probe_session(p)
    info = probe.info
    the_leg = leg or leg_name(info, probe.label or "left")
    sid = session_id or probe.session_id or session_id_for(p, probe.file_start)
    try:
        detector = for_device(make_detector, info)
    except ValueError as exc:
        raise InputError(f"{p}: the detector refuses it: {exc}", path=str(p)) from exc
    events: list[EventRecord] = []
    start: datetime | None = probe.session_start
    wall_of_frame = 0.0  # receive time (Unix s) of the notification being decoded

    def origin(n_emg: int) -> None:
        nonlocal start
        if start is None:  # as LegWorker: the frame's receive time minus its duration
            start = datetime.fromtimestamp(wall_of_frame - n_emg / info.emg_rate_hz, UTC)
        if on_start is not None:
            on_start(start)

    def emit(record: EventRecord) -> None:
        events.append(record)
        if on_event is not None:
            on_event(record)

    feed = StreamFeed(
        detector,
        session_id=sid,
        leg=the_leg,
        session_start=lambda: start or probe.file_start,
        emit=emit,
        batch_samples=round(batch_s * info.emg_rate_hz),
    )
    stream = PacketFeed(info, feed, on_origin=origin, on_samples=on_samples, on_gap=on_gap)
    decoder = Decoder(info)
    link_events = drops = 0
    size = max(1, p.stat().st_size)
    next_progress = 0
    log.info(
        "%s: session %s, %s leg, %d EMG channel(s) at %d Hz, accelerometer at %d Hz",
        p,
        sid,
        the_leg,
        info.n_emg_channels,
        info.emg_rate_hz,
        info.accel_rate_hz,
    )
    source = RecordingSource(p, device_info=info)  # probed above: not read twice
    try:
        for record in source.records():
            if isinstance(record, RawPacket):
                wall_of_frame = record.t_wall or 0.0
                decoder.feed(record.data)
                for item in decoder.events():
                    stream.handle(item)
            else:
                link_events += 1
                drops += record.kind in DROP_KINDS
                if on_link_event is not None:
                    on_link_event(record)
            if progress is not None and record.offset >= next_progress:
                progress(record.offset / size)
                next_progress = record.offset + size // 100
    finally:
        source.close()
    report = source.report()
    stream.finish()
    if progress is not None:
        progress(1.0)
    if report.truncated_tail_bytes or report.corrupt_records:
        log.warning(
            "%s: replayed up to the damage: %d bytes cut at the end, %d damaged records skipped",
            p,
            report.truncated_tail_bytes,
            report.corrupt_records,
        )
    stats = stream.statistics()
    return SessionReplayResult(
        path=p,
        session_id=sid,
        leg=the_leg,
        start=start or probe.file_start,
        info=info,
        duration_s=stats.emg_samples / info.emg_rate_hz,
        events=events,
        statistics=detector.statistics(),
        stream=stats,
        decoder=decoder.statistics(),
        read=report,
        link_events=link_events,
        drops=drops,
        wall_s=time.perf_counter() - t0,
    )


def summary_line(result: SessionReplayResult) -> str:
    """One line for the log: what was replayed, how fast, what was found and lost."""
    kinds = [e.kind.value for e in result.events]
    damage = ""
    if result.read.truncated_tail_bytes or result.read.corrupt_records:
        damage = (
            f"; file damage: {result.read.truncated_tail_bytes} bytes cut at the end, "
            f"{result.read.corrupt_records} damaged records skipped"
        )
    return (
        f"{result.path}: session {result.session_id} ({result.leg}): "
        f"{result.duration_s / 3600:.2f} h in {result.wall_s:.2f} s "
        f"({result.speed:,.0f}× real time); {kinds.count('cramp_started')} cramps, "
        f"{len(kinds)} events; {result.read.notifications} notifications, "
        f"{result.stream.gaps} gaps ({result.stream.missing_emg_samples} EMG samples), "
        f"{result.drops} link drops, {result.decoder.bad_frames} bad frames{damage}"
    )


__all__ = [
    "BATCH_S",
    "PROBE_RECORDS",
    "PacketFeed",
    "SessionProbe",
    "SessionReplayResult",
    "StreamStatistics",
    "is_session_file",
    "probe_session",
    "replay_session",
    "summary_line",
]
