"""The worker's session recording, which pauses instead of failing (issue #16 item 4).

A full disk (or any write error) must never stop detection: :class:`PausableRecording` wraps
:class:`~firmware_bridge.recording.SessionWriter`, and when a write fails it stops recording,
says so once (a warning), counts what it could not record, and tries again every
``retry_s``. When a write succeeds again it says so and records a ``recording_gap`` link event
with what was left out. Its methods never raise.

If the file could not even be created (the disk was already full at start), a new file is
created on resumption, and the *header events* (``device_info``, ``stream_origin``: what a
session replay needs to decode and date the packets) are written into it first.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from firmware_bridge.errors import RecordingError
from firmware_bridge.recording import SessionWriter

log = logging.getLogger(__name__)

RETRY_S = 10.0  # how often a paused recording tries again: cheap, and a gap of at most 10 s
HEADER_EVENTS = frozenset({"device_info", "stream_origin"})  # written first into a new file
_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_disk_full(exc: BaseException | None) -> bool:
    """True if ``exc`` (or an exception it was raised from) says the filesystem is full:
    ``ENOSPC``/``EDQUOT``, or sqlite's ``SQLITE_FULL``."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
            return True
        if isinstance(exc, sqlite3.Error) and exc.sqlite_errorcode == sqlite3.SQLITE_FULL:
            return True
        exc = exc.__cause__
    return False


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingStatistics:
    notifications: int  # recorded
    paused: bool  # not recording now
    disk_full: bool  # … because the filesystem is full
    pauses: int  # times recording paused
    skipped_notifications: int  # received but not recorded while paused
    skipped_link_events: int


class PausableRecording:
    """``PausableRecording(directory, label)``: one session file in ``directory``, created by
    :meth:`open`; ``notification``/``link_event``/``flush``/``close`` never raise."""

    def __init__(
        self,
        directory: Path,
        label: str,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        retry_s: float = RETRY_S,
    ) -> None:
        self._directory = directory
        self._label = label
        self._wall = wall
        self._monotonic = monotonic
        self._retry_s = retry_s
        self._writer: SessionWriter | None = None
        self.path = self._new_path()
        self._header: dict[str, dict[str, Any]] = {}
        self._recorded = 0  # notifications in closed-over writers (a reopen starts a new one)
        self._paused_since: float | None = None
        self._retry_at = 0.0
        self._disk_full = False
        self._pauses = self._skipped_notifications = self._skipped_link_events = 0
        self._gap_notifications = self._gap_link_events = 0

    def _new_path(self) -> Path:
        now = datetime.fromtimestamp(self._wall(), UTC)
        return self._directory / f"{now:%Y%m%dT%H%M%SZ}-{self._label}.cwsession"

    def open(self) -> None:
        """Create the session file (directory 0700, file 0600); a failure pauses recording."""
        self._try_open()

    def _try_open(self) -> bool:
        try:
            self._directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._writer = SessionWriter(
                self.path, session_start=datetime.fromtimestamp(self._wall(), UTC),
                monotonic=self._monotonic, wall=self._wall,
            )
            for kind, fields in self._header.items():
                self._writer.link_event(kind, **fields)
        except (OSError, RecordingError) as exc:
            self._discard_writer(exc)
            self._pause(exc)
            return False
        log.info("%s: recording to %s", self._label, self.path)
        return True

    def _discard_writer(self, exc: BaseException) -> None:
        """Forget a file that could not be started; on a full disk remove it too, so that no
        empty file is left per retry (never one that existed before: O_EXCL refused that)."""
        if self._writer is not None:
            with contextlib.suppress(RecordingError, OSError):
                self._writer.close()
            self._writer = None
        if is_disk_full(exc):
            with contextlib.suppress(OSError):
                self.path.unlink()

    # -- what the worker records ------------------------------------------------------------
    def notification(self, data: bytes, t_mono: float) -> None:
        if self._ready():
            assert self._writer is not None
            try:
                self._writer.notification(data, t_mono)
                return
            except RecordingError as exc:
                self._pause(exc)
            except ValueError:  # larger than any ATT value, or a non-finite stamp: not ours
                pass
        self._skipped_notifications += 1
        self._gap_notifications += 1

    def link_event(self, kind: str, /, **fields: Any) -> None:
        """As :meth:`SessionWriter.link_event`; ``ValueError`` for fields that can never be
        written (not JSON) is the one thing raised, as by the writer."""
        if kind in HEADER_EVENTS:
            self._header[kind] = fields
        if self._ready():
            assert self._writer is not None
            try:
                self._writer.link_event(kind, **fields)
                return
            except RecordingError as exc:
                self._pause(exc)
        self._skipped_link_events += 1
        self._gap_link_events += 1

    def flush(self) -> None:
        if self._writer is not None and self._paused_since is None:
            try:
                self._writer.flush()
            except RecordingError as exc:
                self._pause(exc)

    def close(self) -> None:
        """End the file cleanly if possible; a failure is logged (recorded records stay)."""
        if self._writer is None:
            return
        self._recorded += self._writer.statistics().notifications
        try:
            self._writer.close()
        except (RecordingError, OSError) as exc:
            log.warning("%s: %s (the records before it are kept)", self._label, exc)
        self._writer = None

    # -- pause and resume -------------------------------------------------------------------
    def _ready(self) -> bool:
        """True when a write may be tried: recording, or paused and a retry succeeded (then the
        retry's probe, the ``recording_gap`` event, is in the file)."""
        if self._paused_since is None:
            return self._writer is not None
        now = self._monotonic()
        if now < self._retry_at:
            return False
        self._retry_at = now + self._retry_s
        if self._writer is None:
            self.path = self._new_path()
            if not self._try_open():
                return False
        assert self._writer is not None
        gap_s = now - self._paused_since
        try:  # says in the recording itself why packets are missing there
            self._writer.link_event(
                "recording_gap", seconds=round(gap_s, 3),
                notifications=self._gap_notifications, link_events=self._gap_link_events,
            )
        except RecordingError as exc:
            self._pause(exc)
            return False
        log.info("%s: recording resumed after %.0f s (%d notifications not recorded)",
                 self._label, gap_s, self._gap_notifications)
        self._paused_since = None
        self._disk_full = False
        self._gap_notifications = self._gap_link_events = 0
        return True

    def _pause(self, exc: BaseException) -> None:
        now = self._monotonic()
        self._retry_at = now + self._retry_s
        if self._paused_since is not None:
            return  # a retry failed: still paused, already said
        self._paused_since = now
        self._pauses += 1
        self._disk_full = is_disk_full(exc)
        why = "the disk is full" if self._disk_full else str(exc)
        log.warning(
            "%s: recording paused: %s (%s); detection, events and alarms go on; "
            "trying again every %.0f s", self._label, why, self.path, self._retry_s,
        )

    def statistics(self) -> RecordingStatistics:
        recorded = self._recorded
        if self._writer is not None:
            recorded += self._writer.statistics().notifications
        return RecordingStatistics(
            notifications=recorded,
            paused=self._paused_since is not None,
            disk_full=self._disk_full,
            pauses=self._pauses,
            skipped_notifications=self._skipped_notifications,
            skipped_link_events=self._skipped_link_events,
        )
