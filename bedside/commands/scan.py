"""``crampwatch scan [--duration S]``: list the crampwatch wearables advertising nearby.

One line per wearable, strongest first: name, address, RSSI. The address goes to ``capture
--address``, ``calibrate --address`` and ``[wearable] address`` in the configuration, so no
``bluetoothctl`` is needed. Scanning uses ``firmware_bridge.ble_client.scan`` (BlueZ through
bleak); a machine without a usable adapter gets one line and exit 1 (a link error).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from firmware_bridge.ble_client import scan

HELP = "list the crampwatch wearables advertising nearby (name, address, signal strength)"
DEFAULT_SCAN_S = 5.0  # advertising every 100 ms (firmware/config.py): ~50 chances to be heard


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 < value <= 120:
        raise argparse.ArgumentTypeError(f"must be in (0, 120] seconds, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--duration",
        type=_seconds,
        default=DEFAULT_SCAN_S,
        metavar="S",
        help=f"listen this long (default {DEFAULT_SCAN_S:g} s)",
    )


def run(args: argparse.Namespace) -> int:
    wearables = asyncio.run(scan(args.duration))  # LinkError -> one line, exit 1 (cli.py)
    if not wearables:
        print(f"no crampwatch wearable heard in {args.duration:g} s", file=sys.stderr)
        return 0
    width = max(len(w.name) for w in wearables)
    for w in wearables:
        print(f"{w.name:<{width}}  {w.address}  {w.rssi_dbm} dBm")
    return 0
