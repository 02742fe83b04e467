"""Where every event record goes, in this order: history file (fsynced), outbox + MQTT,
prompt, printer. A failure of one consumer is logged and counted; the others still run."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

from bedside.live.mqtt import MqttPublisher
from bedside.prompt.engine import PromptEngine
from bedside.stream.night import NightSummary
from bedside.stream.records import EventRecord, dumps
from detector.types import EventKind

log = logging.getLogger(__name__)

RecordCallback = Callable[[EventRecord], None]


class EventSink:
    """Where every event record goes, in this order: history file (fsynced), outbox + MQTT,
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
        self.failures: dict[str, int] = {"history": 0, "mqtt": 0, "prompt": 0, "printer": 0}
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, record: EventRecord) -> None:
        self.summary.add(record)
        if self._history is not None and record.kind is not EventKind.CRAMP_UPDATE:
            try:
                with self._history.open("a", encoding="utf-8") as fh:
                    fh.write(dumps(record) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                self.failures["history"] += 1
                log.error("event history %s not written: %s", self._history, exc)
        if self._publisher is not None:
            try:
                self._publisher.publish_event(record)
                if record.kind in (EventKind.CRAMP_STARTED, EventKind.CRAMP_RECORDED):
                    self._publisher.publish_state("count_tonight", self.summary.cramps)
            except Exception:  # the publisher must never stop detection
                self.failures["mqtt"] += 1
                log.exception("MQTT publisher failed on %s", record.event_id)
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
