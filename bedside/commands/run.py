"""``crampwatch run``: the bedside daemon (the systemd service runs this)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from bedside.config.settings import CONFIG_HELP, load_settings, state_dir_for, usable_state_dir
from bedside.live.sdnotify import Notifier
from bedside.live.service import run_night
from bedside.live.virtual import parse_speed, require_virtual, start_from_spec
from bedside.offline.report import write_night_report
from firmware_bridge.errors import ConfigError

RELOAD = -1  # internal: re-execute with the new configuration

HELP = "run the bedside daemon: wearable → detector → recording, MQTT and prompt, all night"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help=CONFIG_HELP)
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        help="recordings, outbox and history (default: $STATE_DIRECTORY or [daemon] state_dir)",
    )
    parser.add_argument(
        "--virtual",
        metavar="sim:SEED|NIGHT.edf",
        help="stream a simulated night (or an EDF/BDF recording) from a virtual wearable",
    )
    parser.add_argument("--hours", type=float, default=8.0, help="with --virtual: night length")
    parser.add_argument("--profile", default="typical", help="with --virtual: simulator profile")
    parser.add_argument(
        "--speed", type=parse_speed, default=1.0, help="with --virtual: × real time, or max"
    )


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    state_dir = usable_state_dir(state_dir_for(settings, args.state_dir))

    async def main() -> int:
        virtual = None
        if args.virtual:
            require_virtual("crampwatch run --virtual")
            virtual = await start_from_spec(
                args.virtual, hours=args.hours, profile=args.profile, speed=args.speed
            )
        result = await run_night(
            settings, state_dir=state_dir, virtual=virtual, reload_check=config_is_valid,
            close_night=write_night_report,
        )
        log.info("stopped: %s", result.summary.as_json())
        if result.reload:
            Notifier().notify("RELOADING=1")
            return RELOAD
        return 1 if result.link_failed else 0

    def config_is_valid() -> bool:
        try:
            load_settings(args.config)
        except ConfigError as exc:
            log.error("SIGHUP: keeping the running configuration: %s", exc)
            return False
        return True

    code = asyncio.run(main())
    if code == RELOAD:
        # Same PID, so systemd (Type=notify) keeps tracking us; READY=1 follows from the new run.
        logging.shutdown()
        os.execv(sys.executable, sys.orig_argv)
    return code
