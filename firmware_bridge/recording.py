"""Raw session recordings: every notification and link event, in a file that survives a power cut.

A session file is a file header followed by framed, checksummed records, appended as they
happen (all integers little-endian)::

    file header (24 bytes)
      0  8s  magic  89 43 57 53 45 53 53 0a  ("\\x89CWSESS\\n": the high-bit byte and the
                                               newline catch 7-bit and text-mode copies, as
                                               PNG's signature does, RFC 2083 §12.12)
      8  u16 format version (1)
     10  u16 header size in bytes (24; readers skip anything longer)
     12  i64 session start, microseconds since 1970-01-01T00:00:00Z
     20  u32 CRC-32 of bytes 0..19
    record (8 + L + 4 bytes)
      0  2s  sync   a5 c3
      2  u8  type   1 notification, 2 link event, 3 clean end
      3  u8  reserved, 0
      4  u32 L, body length (<= 65536)
      8  body: f64 receive time on the monotonic clock (s), i64 wall time (µs since the epoch),
               then the notification bytes (type 1) or a UTF-8 JSON object
               {"kind": ..., "fields": {...}} (type 2; bytes values as {"$bytes": "<hex>"};
               read through jsonsafe: nested at most 16 deep, integers of <= 20 digits)
    8+L  u32 CRC-32 of bytes 0..8+L-1 of the record

CRC-32 is CRC-32/ISO-HDLC (zlib's ``crc32``; check value 0xCBF43926 for ``b"123456789"``).

Durability: each record goes to the kernel with one ``write`` as soon as it is appended (a crash
of the process loses nothing), and the file is ``fsync``-ed at least every ``flush_interval_s``
of the injected monotonic clock, after every link event and on close, so a power cut loses at
most the last few seconds. Files are created ``0600`` and never overwritten.

The reader recovers everything up to the last complete record: a file cut at any byte reads up to
the cut and reports the truncated tail; a damaged record in the middle is skipped by searching
for the next sync bytes whose record checks out, and counted.

Never imports ``bedside``, ``detector`` or ``bleak``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import struct
import time
import zlib
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Self

from firmware_bridge.errors import RecordingError
from firmware_bridge.jsonsafe import BadJsonError, loads_bounded
from firmware_bridge.protocol import DeviceInfo, InvalidDeviceInfoError
from firmware_bridge.source import LinkEvent, RawPacket

logger = logging.getLogger(__name__)

FILE_MAGIC = b"\x89CWSESS\n"
SESSION_SUFFIX = ".cwsession"  # what the daemon, capture and calibrate name their sessions
FORMAT_VERSION = 1
_FILE_HEADER = struct.Struct("<8sHHq")
FILE_HEADER_SIZE = _FILE_HEADER.size + 4  # 24 with its CRC-32

RECORD_SYNC = b"\xa5\xc3"
_RECORD_HEADER = struct.Struct("<2sBBI")  # sync, type, reserved, body length
_TIMES = struct.Struct("<dq")  # monotonic seconds, wall microseconds
RECORD_NOTIFICATION = 1
RECORD_LINK_EVENT = 2
RECORD_END = 3
MAX_BODY_SIZE = 1 << 16  # notifications are <= 514 B (ATT_MTU 517 - 3); link events are small
_RECORD_OVERHEAD = _RECORD_HEADER.size + 4

# Link event kinds the BLE client writes; others are allowed if they match _KIND_RE.
LINK_EVENT_KINDS = ("connected", "disconnected", "mtu", "device_info", "battery", "rssi")
# {"kind", "fields": {name: value}} with bytes as {"$bytes": hex}: depth 3; room for lists
LINK_EVENT_MAX_DEPTH = 16
_KIND_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_BYTES_KEY = "$bytes"
_READ_CHUNK = 1 << 20
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Notification:
    """One received notification: ``data`` as it arrived, receive times in seconds.

    ``t_mono``: the receiver's monotonic clock; ``t_wall``: Unix time (s, UTC).
    ``offset``: byte offset of the record in the file.
    """

    t_mono: float
    t_wall: float
    data: bytes
    offset: int = field(default=0, compare=False)


Record = Notification | LinkEvent


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """The file header: format version and session start (aware datetime, UTC)."""

    path: str
    format_version: int
    session_start: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadReport:
    """What a reader found so far (complete once the iteration has ended).

    ``corrupt_records``: damaged regions in the middle (each followed by a good record);
    ``skipped_bytes``: their total size; ``truncated_tail_bytes``: bytes after the last good
    record that are not a complete record (a power cut); ``clean_end``: the writer closed it.
    """

    records: int = 0
    notifications: int = 0
    link_events: int = 0
    corrupt_records: int = 0
    skipped_bytes: int = 0
    truncated_tail_bytes: int = 0
    clean_end: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class WriterStatistics:
    """Counters of a SessionWriter."""

    records: int = 0
    notifications: int = 0
    link_events: int = 0
    bytes_written: int = 0
    fsyncs: int = 0


def _crc32(data: bytes | bytearray | memoryview) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def _json_default(value: object) -> object:
    if isinstance(value, bytes | bytearray | memoryview):
        return {_BYTES_KEY: bytes(value).hex()}
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _json_hook(obj: dict[str, Any]) -> object:
    if len(obj) == 1 and _BYTES_KEY in obj and isinstance(obj[_BYTES_KEY], str):
        return bytes.fromhex(obj[_BYTES_KEY])
    return obj


class SessionWriter:
    """Appends a session's notifications and link events to ``path`` (created, mode 0600).

    ``session_start``: aware datetime written in the header. ``monotonic`` is the clock of the
    ``t_mono`` stamps (injectable; it also paces ``fsync``), ``wall`` the Unix-time clock.
    Raises RecordingError if the file exists or cannot be written.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        session_start: datetime,
        monotonic: Callable[[], float] = time.monotonic,
        flush_interval_s: float = 2.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if session_start.tzinfo is None:
            raise ValueError("session_start must be timezone-aware (e.g. datetime.now(UTC))")
        if not 0.0 <= flush_interval_s <= 60.0:
            raise ValueError(f"flush_interval_s must be 0..60 s, got {flush_interval_s}")
        self._path = Path(path)
        self._monotonic = monotonic
        self._wall = wall
        self._interval = flush_interval_s
        self._counts = {"records": 0, "notifications": 0, "link_events": 0, "bytes": 0}
        self._fsyncs = 0
        self._dirty = False
        start_us = (session_start - _EPOCH) // timedelta(microseconds=1)
        head = _FILE_HEADER.pack(FILE_MAGIC, FORMAT_VERSION, FILE_HEADER_SIZE, start_us)
        try:
            self._fd: int | None = os.open(
                self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600
            )
        except OSError as exc:
            raise RecordingError(
                f"{self._path}: cannot create session file: {exc.strerror}", path=str(self._path)
            ) from exc
        try:
            os.fchmod(self._fd, 0o600)
            self._write(head + _crc32(head).to_bytes(4, "little"))
            self._fsync()
            # The new directory entry must survive a power cut too.
            dir_fd = os.open(self._path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except BaseException:
            os.close(self._fd)
            self._fd = None
            raise
        self._last_sync = monotonic()

    @property
    def path(self) -> Path:
        """The session file."""
        return self._path

    def notification(self, data: bytes | bytearray | memoryview, t_mono: float) -> None:
        """Append one received notification; ``t_mono`` is its receive time (monotonic s)."""
        raw = bytes(data)
        if len(raw) > MAX_BODY_SIZE - _TIMES.size:
            raise ValueError(f"notification of {len(raw)} bytes is larger than any ATT value")
        if not math.isfinite(t_mono):
            raise ValueError(f"t_mono must be finite, got {t_mono}")
        # Wall time of reception: now, minus how long ago t_mono was on the monotonic clock.
        now = self._monotonic()
        t_wall = self._wall() - max(0.0, now - t_mono)
        self._append(RECORD_NOTIFICATION, t_mono, t_wall, raw, now)
        self._counts["notifications"] += 1

    def link_event(self, kind: str, /, **fields: Any) -> None:
        """Append a link event now, e.g. ``link_event("mtu", att_mtu=247)``; fsyncs at once.

        ``fields`` must be JSON-serialisable (bytes are stored as hex and read back as bytes).
        """
        if not _KIND_RE.fullmatch(kind):
            raise ValueError(f"link event kind must match {_KIND_RE.pattern}, got {kind!r}")
        try:
            payload = json.dumps(
                {"kind": kind, "fields": fields},
                default=_json_default,
                allow_nan=False,
                separators=(",", ":"),
                sort_keys=True,
            ).encode()
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"link event {kind!r}: fields are not JSON-serialisable: {exc}"
            ) from exc
        if len(payload) > MAX_BODY_SIZE - _TIMES.size:
            raise ValueError(f"link event {kind!r} is {len(payload)} bytes, too large")
        now = self._monotonic()
        self._append(RECORD_LINK_EVENT, now, self._wall(), payload, now)
        self._counts["link_events"] += 1
        self.flush()

    def flush(self) -> None:
        """``fsync`` now if anything was written since the last one.

        Appends fsync on their own every ``flush_interval_s``; call this from a periodic task
        too if records may stop arriving (every record already reached the kernel).
        """
        self._check_open()
        if self._dirty:
            self._fsync()
        self._last_sync = self._monotonic()

    def close(self) -> None:
        """Append the clean-end record, fsync and close; a second call does nothing."""
        if self._fd is None:
            return
        try:
            now = self._monotonic()
            self._append(RECORD_END, now, self._wall(), b"", now)
            self._fsync()
        finally:
            os.close(self._fd)
            self._fd = None

    def statistics(self) -> WriterStatistics:
        """A snapshot of the counters."""
        c = self._counts
        return WriterStatistics(
            records=c["records"],
            notifications=c["notifications"],
            link_events=c["link_events"],
            bytes_written=c["bytes"],
            fsyncs=self._fsyncs,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._fd is None:
            raise ValueError(f"{self._path}: session writer is closed")

    def _append(self, kind: int, t_mono: float, t_wall: float, payload: bytes, now: float) -> None:
        self._check_open()
        body = _TIMES.pack(t_mono, round(t_wall * 1e6)) + payload
        record = _RECORD_HEADER.pack(RECORD_SYNC, kind, 0, len(body)) + body
        start = self._counts["bytes"]
        try:
            self._write(record + _crc32(record).to_bytes(4, "little"))
        except RecordingError:
            self._cut_back(start)  # no half record: a later append (space back) follows a whole one
            raise
        self._counts["records"] += 1
        self._dirty = True
        if now - self._last_sync >= self._interval:
            self._fsync()
            self._last_sync = now

    def _write(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
                self._counts["bytes"] += written
        except OSError as exc:
            raise RecordingError(
                f"{self._path}: write failed: {exc.strerror}",
                path=str(self._path),
                offset=self._counts["bytes"],
            ) from exc

    def _cut_back(self, size: int) -> None:
        """Drop what a failed append wrote past ``size`` (shrinking needs no free space)."""
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, size)
            os.lseek(self._fd, size, os.SEEK_SET)
        except OSError:
            return  # the reader skips a damaged record by its sync word and CRC
        self._counts["bytes"] = size

    def _fsync(self) -> None:
        assert self._fd is not None
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise RecordingError(
                f"{self._path}: fsync failed: {exc.strerror}",
                path=str(self._path),
                offset=self._counts["bytes"],
            ) from exc
        self._fsyncs += 1
        self._dirty = False


class SessionReader(Iterator[Record]):
    """Iterates over the records of a session file, recovering what a power cut left.

    ``info`` is available at once; ``report()`` grows while iterating. Raises RecordingError if
    the file header is missing or damaged (not a session file, or cut inside its first 24
    bytes); damage after the header is counted, never raised.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = str(path)
        try:
            with open(path, "rb") as file:
                self.info = self._read_header(file)
        except OSError as exc:
            raise RecordingError(f"{path}: {exc.strerror}", path=self._path) from exc
        self._records = 0
        self._notifications = 0
        self._link_events = 0
        self._corrupt = 0
        self._skipped = 0
        self._tail = 0
        self._clean_end = False
        self._iter = self._scan()

    def report(self) -> ReadReport:
        """Counts so far; final once iteration has stopped."""
        return ReadReport(
            records=self._records,
            notifications=self._notifications,
            link_events=self._link_events,
            corrupt_records=self._corrupt,
            skipped_bytes=self._skipped,
            truncated_tail_bytes=self._tail,
            clean_end=self._clean_end,
        )

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Record:
        return next(self._iter)

    def close(self) -> None:
        """End the iteration and close the file (it is open only while iterating)."""
        self._iter.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _read_header(self, file: BinaryIO) -> SessionInfo:
        head = file.read(FILE_HEADER_SIZE)
        if len(head) < FILE_HEADER_SIZE:
            if not FILE_MAGIC.startswith(head[: len(FILE_MAGIC)]):
                raise RecordingError(f"{self._path}: not a crampwatch session", path=self._path)
            raise RecordingError(
                f"{self._path}: cut inside the {FILE_HEADER_SIZE}-byte file header "
                f"({len(head)} bytes): nothing was recorded",
                path=self._path,
                offset=len(head),
            )
        magic, version, header_size, start_us = _FILE_HEADER.unpack_from(head)
        if magic != FILE_MAGIC:
            raise RecordingError(f"{self._path}: not a crampwatch session", path=self._path)
        if _crc32(head[:-4]) != int.from_bytes(head[-4:], "little"):
            raise RecordingError(f"{self._path}: file header CRC mismatch", path=self._path)
        if version != FORMAT_VERSION:
            raise RecordingError(
                f"{self._path}: session format {version}, this reader reads {FORMAT_VERSION}",
                path=self._path,
            )
        if header_size < FILE_HEADER_SIZE:
            raise RecordingError(f"{self._path}: bad header size {header_size}", path=self._path)
        self._data_start = header_size
        try:
            start = _EPOCH + timedelta(microseconds=start_us)
        except OverflowError as exc:
            raise RecordingError(f"{self._path}: bad session start", path=self._path) from exc
        return SessionInfo(path=self._path, format_version=version, session_start=start)

    def _scan(self) -> Generator[Record, None, None]:
        buf = bytearray()
        base = self._data_start  # file offset of buf[0]
        pos = 0
        eof = False
        bad_start: int | None = None  # file offset where the current damaged run began

        try:
            file = open(self._path, "rb")  # noqa: SIM115  # closed in the finally below
        except OSError as exc:
            raise RecordingError(f"{self._path}: {exc.strerror}", path=self._path) from exc
        file.seek(self._data_start)

        def fill(need: int) -> None:
            nonlocal eof
            while len(buf) < need and not eof:
                chunk = file.read(max(_READ_CHUNK, need - len(buf)))
                if chunk:
                    buf.extend(chunk)
                else:
                    eof = True

        try:
            while True:
                if pos >= _READ_CHUNK:
                    del buf[:pos]
                    base += pos
                    pos = 0
                fill(pos + _RECORD_HEADER.size)
                available = len(buf) - pos
                if available == 0:
                    break
                if buf[pos : pos + 2] != RECORD_SYNC:
                    if bad_start is None:
                        bad_start = base + pos
                    found = buf.find(RECORD_SYNC, pos + 1)
                    if found >= 0:
                        pos = found
                    elif eof:
                        pos = len(buf)
                    else:  # keep the last byte: it may be the first half of the sync
                        pos = len(buf) - 1
                        fill(len(buf) + 1)
                    continue
                record = None
                if available >= _RECORD_HEADER.size:
                    _, kind, reserved, length = _RECORD_HEADER.unpack_from(buf, pos)
                    total = _RECORD_OVERHEAD + length
                    if (
                        kind in (RECORD_NOTIFICATION, RECORD_LINK_EVENT, RECORD_END)
                        and reserved == 0
                        and _TIMES.size <= length <= MAX_BODY_SIZE
                    ):
                        fill(pos + total)
                        if len(buf) - pos >= total:
                            record = self._parse(buf, pos, kind, length, base + pos)
                if record is None:  # damaged, or incomplete at the end of the file
                    if bad_start is None:
                        bad_start = base + pos
                    pos += 1
                    continue
                if bad_start is not None:
                    self._corrupt += 1
                    self._skipped += base + pos - bad_start
                    logger.warning(
                        "%s: skipped %d damaged bytes at offset %d",
                        self._path,
                        base + pos - bad_start,
                        bad_start,
                    )
                    bad_start = None
                pos += total
                if isinstance(record, Notification):
                    self._records += 1
                    self._notifications += 1
                    yield record
                elif isinstance(record, LinkEvent):
                    self._records += 1
                    self._link_events += 1
                    yield record
                else:
                    self._clean_end = True
            if bad_start is not None:  # nothing good after it: the cut of a power failure
                self._tail = base + len(buf) - bad_start
                logger.info("%s: truncated tail of %d bytes", self._path, self._tail)
        finally:
            file.close()

    @staticmethod
    def _parse(
        buf: bytearray, pos: int, kind: int, length: int, offset: int
    ) -> Record | bool | None:
        """The record at ``pos`` (True for a clean end), or None if its CRC or body is bad."""
        end = pos + _RECORD_HEADER.size + length
        if _crc32(memoryview(buf)[pos:end]) != int.from_bytes(buf[end : end + 4], "little"):
            return None
        t_mono, wall_us = _TIMES.unpack_from(buf, pos + _RECORD_HEADER.size)
        payload = bytes(buf[pos + _RECORD_HEADER.size + _TIMES.size : end])
        t_wall = wall_us / 1e6
        if kind == RECORD_NOTIFICATION:
            return Notification(t_mono, t_wall, payload, offset)
        if kind == RECORD_END:
            return True
        try:
            # NaN is allowed: a writer's float field may hold one (json.dumps writes it)
            obj = loads_bounded(
                payload,
                max_bytes=MAX_BODY_SIZE,
                max_depth=LINK_EVENT_MAX_DEPTH,
                allow_nonfinite=True,
                object_hook=_json_hook,
            )
        except BadJsonError as exc:
            logger.debug("link event at offset %d: %s", offset, exc.reason)
            return None
        if (
            not isinstance(obj, dict)
            or not isinstance(obj.get("kind"), str)
            or not isinstance(obj.get("fields"), dict)
        ):
            return None
        return LinkEvent(t_mono, obj["kind"], obj["fields"], t_wall, offset)


def is_session_file(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is meant as a session: it starts with the magic, or is named
    ``*.cwsession`` (so an empty or damaged session is reported as one, not as "not an EDF").

    False for anything else, or if unreadable (opening it will say why).
    """
    if Path(path).suffix.lower() == SESSION_SUFFIX:
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(len(FILE_MAGIC)) == FILE_MAGIC
    except OSError:
        return False


def read_session(path: str | os.PathLike[str]) -> SessionReader:
    """Open a session file: iterate for its records; ``.info`` and ``.report()`` tell the rest."""
    return SessionReader(path)


class RecordingSource:
    """A recorded session as a :class:`~firmware_bridge.source.PacketSource`: its notifications
    as :class:`RawPacket` (with their recorded receive times) and its link events, in file order.

    ``records()`` is the synchronous walk the offline tools use; ``packets()`` is the async
    form the live worker consumes. ``device_info`` is known before the first packet, as it is
    live (the client reads it on connect): the first recorded ``device_info`` link event with its
    bytes among the first ``probe_records`` records (the daemon writes it right after the first
    notification), or the ``device_info`` given. ``report()`` tells the damage the walk found.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        device_info: DeviceInfo | None = None,
        probe_records: int = 5000,
    ) -> None:
        self.path = Path(path)
        self._reader = SessionReader(self.path)
        # a caller that has probed the session already (replay) passes what it found
        self._info = device_info if device_info is not None else self._probe(probe_records)

    def _probe(self, max_records: int) -> DeviceInfo | None:
        with SessionReader(self.path) as reader:
            for n, record in enumerate(reader):
                if n >= max_records:
                    break
                data = record.fields.get("data") if isinstance(record, LinkEvent) else None
                if isinstance(record, LinkEvent) and record.kind == "device_info" \
                        and isinstance(data, bytes):
                    # an invalid one: the replay's probe says why
                    with contextlib.suppress(InvalidDeviceInfoError):
                        return DeviceInfo.from_bytes(data)
        return None

    @property
    def info(self) -> SessionInfo:
        return self._reader.info

    @property
    def device_info(self) -> DeviceInfo | None:
        return self._info

    def records(self) -> Iterator[RawPacket | LinkEvent]:
        for record in self._reader:
            if isinstance(record, Notification):
                yield RawPacket(record.t_mono, record.data, record.t_wall, record.offset)
            else:
                yield record

    async def packets(self) -> AsyncIterator[RawPacket]:
        for record in self.records():
            if isinstance(record, RawPacket):
                yield record

    def report(self) -> ReadReport:
        return self._reader.report()

    def close(self) -> None:
        self._reader.close()
