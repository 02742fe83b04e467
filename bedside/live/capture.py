"""Recording a wearable's raw notifications and link events to a session file, with no
detector: what ``crampwatch capture`` and the guided ``calibrate`` run. The session file is the
same format the daemon records (``firmware_bridge.recording``), so ``replay`` and ``export``
read both."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from firmware_bridge.ble_client import BleClient
from firmware_bridge.errors import RecordingError
from firmware_bridge.recording import SessionWriter
from firmware_bridge.source import LinkEvent

log = logging.getLogger(__name__)

FLUSH_S = 2.0  # fsync an idle recording at least this often (as the daemon does)
SETTLE_S = 0.5  # virtual: the night is over when nothing more arrived for this long
DROP_KINDS = frozenset({"disconnected", "silence"})


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureResult:
    """What a capture recorded; ``wall_s`` is its length on the wall clock."""

    path: Path
    notifications: int
    bytes: int
    link_events: int
    drops: int
    wall_s: float


class Recorder:
    """A ``BleClient``'s ``on_event`` and packet consumer writing one session file.

    The ``device_info`` event gets the device info bytes (``data``) that the client read, so the
    recording can be decoded without the wearable.
    """

    def __init__(self, writer: SessionWriter) -> None:
        self.writer = writer
        self.link: BleClient | None = None
        self.notifications = 0
        self.bytes = 0
        self.link_events = 0
        self.drops = 0

    def on_event(self, event: LinkEvent) -> None:
        fields: dict[str, Any] = dict(event.fields)
        if event.kind == "device_info" and self.link is not None:
            info = self.link.statistics().device_info
            if info is not None:
                fields["data"] = info.to_bytes()
        try:
            self.writer.link_event(event.kind, **fields)
        except (RecordingError, TypeError, ValueError) as exc:
            log.warning("link event %s not recorded: %s", event.kind, exc)
            return
        self.link_events += 1
        self.drops += event.kind in DROP_KINDS

    async def consume(self, link: BleClient) -> None:
        """Append every notification until the link's packets end (``link.close()``)."""
        async for packet in link.packets():
            self.writer.notification(packet.data, packet.t_mono)
            self.notifications += 1
            self.bytes += len(packet.data)


async def capture(
    link_factory: Callable[[Callable[[LinkEvent], None]], BleClient],
    output: Path,
    *,
    stop: asyncio.Event,
    duration_s: float | None = None,
    finished: Callable[[BleClient, Recorder], bool] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> CaptureResult:
    """Record until ``stop`` is set, ``duration_s`` wall seconds passed or ``finished(link,
    recorder)`` has held for ``SETTLE_S``. Raises :class:`RecordingError` if ``output`` exists.
    """
    writer = SessionWriter(output, session_start=datetime.now(UTC), monotonic=monotonic)
    recorder = Recorder(writer)
    t0 = monotonic()
    try:
        link = link_factory(recorder.on_event)
        recorder.link = link
        await link.start()
        consumer = asyncio.create_task(recorder.consume(link), name="capture-consumer")
        try:
            settled: float | None = None
            while not stop.is_set() and not consumer.done():
                now = monotonic()
                if duration_s is not None and now - t0 >= duration_s:
                    break
                if finished is not None and finished(link, recorder):
                    settled = settled if settled is not None else now
                    if now - settled >= SETTLE_S:
                        break
                else:
                    settled = None
                writer.flush()  # cheap when nothing new: fsync only if something was written
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=min(0.1, FLUSH_S))
        finally:
            await link.close()  # ends packets(): the consumer finishes
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
    finally:
        writer.close()
    return CaptureResult(
        path=output,
        notifications=recorder.notifications,
        bytes=recorder.bytes,
        link_events=recorder.link_events,
        drops=recorder.drops,
        wall_s=monotonic() - t0,
    )


def virtual_finished(
    wearable_sent: Callable[[], int], done: asyncio.Event
) -> Callable[[BleClient, Recorder], bool]:
    def finished(link: BleClient, recorder: Recorder) -> bool:
        if not done.is_set():
            return False
        stats = link.statistics()
        return (
            stats.packets + stats.queue_drops >= wearable_sent()
            and recorder.notifications >= stats.packets
        )

    return finished
