"""Where every event record goes, in this order: outbox + MQTT, history file (fsynced),
prompt, printer. A failure of one consumer is logged and counted; the others still run. History
lines that cannot be written (a full disk) are held in memory and written when there is room.

Why the outbox comes first: a process killed between the two writes must lose neither. An event
the outbox stored but the history lacks is still in the outbox at the next start (its PUBACK is
handled on the event loop, after this call returned), and :meth:`EventSink.recover` writes it to
the history then. The other order would leave an event in the history that no restart publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from bedside.live.mqtt import MqttPublisher
from bedside.live.recorder import is_disk_full
from bedside.prompt.engine import PromptEngine
from bedside.stream.night import NightSummary
from bedside.stream.records import EventRecord, dumps, json_lines
from detector.types import EventKind
from firmware_bridge.errors import InputError

log = logging.getLogger(__name__)

RecordCallback = Callable[[EventRecord], None]
# History lines held in memory while the disk is full: a night has tens of events at most, so a
# thousand covers many nights without growing without bound.
HELD_MAX = 1000


class EventSink:
    """Where every event record goes, in this order: outbox + MQTT, history file (fsynced),
    prompt, printer. A failure of one consumer is logged and counted; the others still run."""

    def __init__(
        self,
        *,
        history_path: Path | None,
        publisher: MqttPublisher | None,
        prompt: PromptEngine | None,
        printer: RecordCallback | None,
        summary: NightSummary,
    ) -> None:
        self._history = history_path
        self._publisher = publisher
        self._prompt = prompt
        self._printer = printer
        self.summary = summary
        self.failures: dict[str, int] = {
            "history": 0, "history_dropped": 0, "mqtt": 0, "prompt": 0, "printer": 0
        }
        self._tasks: set[asyncio.Task[None]] = set()
        # history lines not yet written (a full disk): the oldest are dropped past HELD_MAX,
        # and each such drop is counted in failures["history_dropped"]
        self._held: deque[str] = deque()
        self.history_paused = False
        self.disk_full = False  # the history file's filesystem is full

    @property
    def held(self) -> int:
        """History lines held in memory, not yet written."""
        return len(self._held)

    def __call__(self, record: EventRecord) -> None:
        self.summary.add(record)
        if self._publisher is not None:
            try:
                self._publisher.publish_event(record)
                if record.kind in (EventKind.CRAMP_STARTED, EventKind.CRAMP_RECORDED):
                    self._publisher.publish_state("count_tonight", self.summary.cramps)
            except Exception:  # the publisher must never stop detection
                self.failures["mqtt"] += 1
                log.exception("MQTT publisher failed on %s", record.event_id)
        if self._history is not None and record.kind is not EventKind.CRAMP_UPDATE:
            self._hold(dumps(record) + "\n")
            self.write_held()
        if self._prompt is not None and _prompt_wants(record):
            task = asyncio.get_running_loop().create_task(self._prompt.on_event(record))
            self._tasks.add(task)
            task.add_done_callback(self._prompt_done)
        if self._printer is not None:
            try:
                self._printer(record)
            except Exception:
                self.failures["printer"] += 1
                log.exception("printing an event failed")

    def recover(self, stored: Sequence[EventRecord]) -> int:
        """At start: write to the history the events in ``stored`` (the outbox's unacknowledged
        cramp events, oldest first) that it lacks, because the last run was killed between the
        outbox and the history. Not published or prompted here: the publisher sends them from
        the outbox. Returns how many were written (or held, on a full disk). With nothing
        stored (the usual start) the history is not read."""
        if self._history is None or not stored:
            return 0
        known = _history_ids(self._history)
        missing = [r for r in stored if r.event_id not in known]
        for record in missing:
            self._hold(dumps(record) + "\n")
        self.write_held()
        if missing:
            log.warning("event history: %d event(s) stored for MQTT but not in the history when "
                        "the last run stopped; added now", len(missing))
        return len(missing)

    def _hold(self, line: str) -> None:
        self._held.append(line)
        if len(self._held) > HELD_MAX:
            self._held.popleft()
            self.failures["history_dropped"] += 1
            log.error("event history: more than %d events held; the oldest dropped", HELD_MAX)

    def write_held(self) -> None:
        """Append the history lines not yet written (oldest first) and fsync; on failure (a
        full disk) they stay held in memory, at most ``HELD_MAX``, for the next event or
        :meth:`write_held` call (the daemon retries periodically). Never raises."""
        if self._history is None or not self._held:
            return
        try:
            fd = os.open(self._history, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                         0o600)
        except OSError as exc:
            self._history_failed(exc)
            return
        try:
            with contextlib.suppress(OSError):  # health data: 0600 whatever the umask
                os.fchmod(fd, 0o600)
            while self._held:
                _append_line(fd, self._held[0])
                self._held.popleft()  # only once written: never lost, never twice
            os.fsync(fd)
        except OSError as exc:
            self._history_failed(exc)
            return
        finally:
            os.close(fd)
        if self.history_paused:
            log.info("event history %s written again", self._history)
        self.history_paused = self.disk_full = False

    def close(self) -> None:
        """At shutdown: a last try to write held history lines; says how many could not be
        (they were published and prompted, but are not in the history file)."""
        self.write_held()
        if self._held:
            log.error("event history %s: %d event(s) could not be written (disk full?); they "
                      "were published and prompted", self._history, len(self._held))

    def _history_failed(self, exc: OSError) -> None:
        self.failures["history"] += 1
        if not self.history_paused:
            log.error("event history %s not written: %s; events are held in memory "
                      "(at most %d) and still published and prompted", self._history,
                      "the disk is full" if is_disk_full(exc) else exc, HELD_MAX)
        self.history_paused = True
        self.disk_full = is_disk_full(exc)

    def _prompt_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.failures["prompt"] += 1
            log.error("prompt failed: %s", task.exception())


def _prompt_wants(record: EventRecord) -> bool:
    """The prompt needs starts and ends, and the updates that say the level fell or rose; a
    ``cramp_recorded`` never: it was recognised after it ended (nothing to stretch through)."""
    if record.kind is EventKind.CRAMP_RECORDED:
        return False
    return record.kind is not EventKind.CRAMP_UPDATE or record.easing is not None


def _history_ids(path: Path) -> set[str]:
    """The ``event_id`` of every readable line of the history (an unreadable file: none; bad
    lines are skipped quietly here, :func:`~bedside.stream.night.restore_night` reports them)."""
    if not path.exists():
        return set()
    try:
        return {
            value["event_id"] for _, value, _ in json_lines(path)
            if isinstance(value, dict) and isinstance(value.get("event_id"), str)
        }
    except InputError as exc:
        log.warning("event history %s unreadable (%s)", path, exc)
        return set()


def _append_line(fd: int, line: str) -> None:
    """Append ``line`` whole, or not at all: a failed write is cut back (shrinking needs no
    space), so a retry never leaves half a line before the whole one."""
    data = line.encode("utf-8")
    start = os.lseek(fd, 0, os.SEEK_END)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, start)
        raise
