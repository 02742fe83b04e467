"""``crampwatch capture (--virtual sim:SEED|NIGHT.edf | --address ADDR) [--duration S]
[--speed X|max] [--drop-every S] -o SESSION``: record a wearable's raw notifications, no daemon.

Only the production ``BleClient`` and a ``SessionWriter`` run: every notification is appended as
it arrives (bytes + receive time), and every link event (connected, device info, battery,
disconnected, …) beside it, in the power-cut-safe session format of
``firmware_bridge.recording``. The ``device_info`` event carries the device info bytes, so the
session can be decoded, replayed (``crampwatch replay SESSION``) and exported
(``crampwatch export``) later. Useful for firmware work and for collecting real nights.

``--virtual sim:SEED`` records a simulated night from the virtual wearable (bumble, no
hardware); its night is ``--duration`` stream seconds long (default 1 h) and the capture ends
when it has been sent. ``--virtual NIGHT.edf`` plays an EDF/BDF recording (EMG… and Accel
X/Y/Z) instead, whole. ``--drop-every S`` makes the virtual wearable cut the link every S
stream-seconds (``WearableFaults(drop_every_stream_s=S)``). With ``--address`` the capture runs
for ``--duration`` wall seconds, or until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bedside.commands.demo import parse_speed
from bedside.settings import Settings, load_settings
from firmware_bridge.ble_client import BleClient, LinkEvent
from firmware_bridge.errors import InputError, RecordingError
from firmware_bridge.recording import SessionWriter

log = logging.getLogger(__name__)

HELP = "record a wearable's raw notifications and link events to a session file (no detector)"
DEFAULT_VIRTUAL_S = 3600.0  # a virtual night of one hour unless --duration says otherwise
FLUSH_S = 2.0  # fsync an idle recording at least this often (as the daemon does)
SETTLE_S = 0.5  # virtual: the night is over when nothing more arrived for this long
DROP_KINDS = frozenset({"disconnected", "silence"})


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--virtual",
        metavar="sim:SEED|NIGHT.edf",
        help="a simulated night, or an EDF/BDF recording played by the virtual wearable",
    )
    source.add_argument("--address", metavar="ADDR", help="BLE address of the real wearable")
    parser.add_argument(
        "-o", "--output", required=True, metavar="SESSION", help="session file (must not exist)"
    )
    parser.add_argument(
        "--duration",
        type=_positive,
        metavar="S",
        help="virtual sim:SEED: night length in stream seconds (default 3600); "
        "real: stop after S wall seconds (default: until Ctrl-C)",
    )
    parser.add_argument(
        "--speed",
        type=parse_speed,
        default=None,
        metavar="X|max",
        help="virtual: play X× real time, or max (default max; then the virtual clock waits "
        "for the link, so drops leave no gap)",
    )
    parser.add_argument(
        "--drop-every",
        type=_positive,
        metavar="S",
        help="virtual: the wearable cuts the link every S stream-seconds",
    )
    parser.add_argument("--profile", default="dense", help="virtual: simulator profile (dense)")
    parser.add_argument("--config", metavar="FILE", help="TOML configuration (default: built-in)")


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


async def _main(args: argparse.Namespace, settings: Settings) -> CaptureResult:
    output = Path(args.output)
    if output.exists():
        raise InputError(f"{output}: exists; a capture never overwrites a recording")
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        if args.address is not None:
            wearable = dataclasses.replace(settings.wearable, address=args.address)

            def make(on_event: Callable[[LinkEvent], None]) -> BleClient:
                return BleClient(wearable, label="capture", on_event=on_event)

            return await capture(make, output, stop=stop, duration_s=args.duration)
        from bedside.virtual import require_virtual, start_from_spec

        require_virtual("crampwatch capture --virtual")
        from firmware_bridge.virtual_wearable import WearableFaults

        faults = WearableFaults(drop_every_stream_s=args.drop_every or 0.0)
        virtual = await start_from_spec(
            args.virtual,
            hours=(args.duration or DEFAULT_VIRTUAL_S) / 3600.0,
            profile=args.profile,
            speed=args.speed,
            faults=faults,
        )
        try:
            return await capture(
                virtual.client_factory(settings.wearable, "capture"),
                output,
                stop=stop,
                finished=virtual_finished(
                    lambda: virtual.wearable.statistics().sent, virtual.wearable.finished
                ),
            )
        finally:
            await virtual.wearable.stop()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def run(args: argparse.Namespace) -> int:
    if args.address is not None and args.drop_every is not None:
        raise InputError("--drop-every needs --virtual (a real wearable drops on its own)")
    settings = load_settings(args.config)
    result = asyncio.run(_main(args, settings))
    print(
        f"{result.path}: {result.notifications} notifications ({result.bytes} bytes), "
        f"{result.link_events} link events, {result.drops} link drops in {result.wall_s:.1f} s",
        file=sys.stderr,
    )
    return 0
