"""The ``crampwatch`` command line: one subcommand per module in ``bedside.commands``.

Each command module exposes ``HELP: str``, ``add_arguments(parser)`` and ``run(args) -> int``.
Only this module configures logging (stderr, no timestamps: journald adds them).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from types import ModuleType

from firmware_bridge.errors import CrampwatchError

log = logging.getLogger(__name__)

# (subcommand, module in bedside.commands); the order is the order of --help.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("demo", "demo"),
    ("run", "run"),
    ("simulate", "simulate"),
    ("replay", "replay"),
    ("score", "score"),
    ("capture", "capture"),
    ("export", "export"),
    ("prompt", "prompt"),
    ("check-config", "check_config"),
)


def _load(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"bedside.commands.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"bedside.commands.{module}":
            return None  # not built yet: the subcommand is left out of --help
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crampwatch",
        description="Watch a sleeper's calf for night cramps and help when one strikes.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log detail")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="less log detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS:
        module = _load(module_name)
        if module is None:
            continue
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
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
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose - args.quiet)
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
