"""``crampwatch run``: the bedside daemon (the systemd service runs this)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from pathlib import Path

from bedside.commands.demo import parse_speed
from bedside.service import run_night
from bedside.settings import load_settings
from bedside.virtual import parse_source, start_virtual

HELP = "run the bedside daemon: wearable → detector → recording, MQTT and prompt, all night"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="TOML configuration (default: built-in)")
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        help="recordings, outbox and history (default: $STATE_DIRECTORY or [daemon] state_dir)",
    )
    parser.add_argument(
        "--virtual",
        metavar="sim:SEED",
        help="stream a simulated night from a virtual wearable instead of the real one",
    )
    parser.add_argument("--hours", type=float, default=8.0, help="with --virtual: night length")
    parser.add_argument("--profile", default="typical", help="with --virtual: simulator profile")
    parser.add_argument(
        "--speed", type=parse_speed, default=1.0, help="with --virtual: × real time, or max"
    )


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    state_dir = Path(
        args.state_dir or os.environ.get("STATE_DIRECTORY", "") or settings.daemon.state_dir
    )
    seed = parse_source(args.virtual) if args.virtual else None

    async def main() -> int:
        virtual = None
        if seed is not None:
            virtual = await start_virtual(
                seed=seed, hours=args.hours, profile=args.profile, speed=args.speed
            )
        result = await run_night(settings, state_dir=state_dir, virtual=virtual)
        log.info("night over: %s", result.summary.as_json())
        return 1 if result.link_failed else 0

    return asyncio.run(main())
