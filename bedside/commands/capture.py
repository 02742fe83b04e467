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
import dataclasses
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from bedside.config.settings import CONFIG_HELP, Settings, load_settings
from bedside.live.capture import CaptureResult, capture, virtual_finished
from bedside.live.virtual import parse_speed, require_virtual, start_from_spec
from firmware_bridge.ble_client import BleClient
from firmware_bridge.errors import InputError
from firmware_bridge.source import LinkEvent

log = logging.getLogger(__name__)

HELP = "record a wearable's raw notifications and link events to a session file (no detector)"
DEFAULT_VIRTUAL_S = 3600.0  # a virtual night of one hour unless --duration says otherwise


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
    parser.add_argument("--config", metavar="FILE", help=CONFIG_HELP)


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
        require_virtual("crampwatch capture --virtual")
        # imported here: the virtual wearable needs bumble, the optional 'virtual' extra
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
