"""The ``crampwatch`` command line: one subcommand per module in ``bedside.commands``.

Each command module exposes ``HELP: str``, ``add_arguments(parser)`` and ``run(args) -> int``.
Only this module configures logging (stderr, no timestamps: journald adds them).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from bedside.config.settings import package_version
from firmware_bridge.errors import CrampwatchError

log = logging.getLogger(__name__)

# (subcommand, module in bedside.commands, one-line help); the order is the order of --help.
# Only the chosen subcommand's module is imported (scipy, bumble and paho are slow to load).
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("demo", "demo", "the daemon on a simulated night from a virtual wearable (no setup)"),
    ("run", "run", "run the bedside daemon: wearable → detector → recording, MQTT, prompt"),
    ("simulate", "simulate", "simulate a night: EDF+ with EMG and accelerometer, plus truth"),
    ("replay", "replay", "replay EDF/BDF recordings through the detector; events as JSON lines"),
    ("score", "score", "score detector events against a simulated night's truth"),
    ("capture", "capture", "record a wearable's raw notifications without the daemon"),
    ("scan", "scan", "list the crampwatch wearables advertising nearby (name, address, RSSI)"),
    ("export", "export", "export a session recording as EDF+ with annotations"),
    ("prompt", "prompt", "test the stretch prompt, pre-render it, log the bedtime stretch"),
    ("calibrate", "calibrate", "measure the optional calibration: leg at rest, then a brief "
     "calf contraction"),
    ("label", "label", "label a session: 'that was not a cramp' or 'I had a cramp around 03:10'"),
    ("tune", "tune", "sweep detector settings over labelled nights, cross-validated by night"),
    ("report", "report", "draw a night (PNG + HTML), or the trend over weeks (--history)"),
    ("check-config", "check_config", "check a configuration file (or print every key)"),
    ("mqtt", "mqtt", "MQTT upkeep: 'mqtt purge' removes a node's discovery and retained topics"),
)


def _load(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"bedside.commands.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"bedside.commands.{module}":
            return None  # not built yet: the subcommand is left out of --help
        raise


def _available(module: str) -> bool:
    return importlib.util.find_spec(f"bedside.commands.{module}") is not None


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; only the subcommand named in ``argv`` gets its module imported."""
    parser = argparse.ArgumentParser(
        prog="crampwatch",
        description="Watch a sleeper's calf for night cramps and help when one strikes.",
    )
    parser.add_argument("--version", action="version", version=f"crampwatch {package_version()}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log detail")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="less log detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, module_name, summary in COMMANDS:
        if not _available(module_name):
            continue
        cmd = sub.add_parser(name, help=summary, description=summary)
        if name == chosen:
            module = _load(module_name)
            assert module is not None
            cmd.description = module.HELP
            module.add_arguments(cmd)
            cmd.set_defaults(handler=module.run)
    return parser


def configure_logging(verbosity: int) -> None:
    level = {-2: logging.ERROR, -1: logging.WARNING, 0: logging.INFO}.get(
        max(-2, min(verbosity, 1)), logging.DEBUG
    )
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    configure_logging(args.verbose - args.quiet)
    # Cramp history, recordings, calibrations and reports are health data: whatever umask we
    # inherit (a login shell's 022, a container's 000), what crampwatch creates is 0600 and
    # its directories 0700 (issue #16 item 9). The writers set these modes too where it matters.
    os.umask(0o077)
    try:
        code: int = args.handler(args)
    except CrampwatchError as exc:
        print(f"crampwatch: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
