"""``crampwatch check-config FILE``: load a configuration and report the first mistake."""

from __future__ import annotations

import argparse
import sys

from bedside.config.settings import example_toml, load_settings

HELP = "check a configuration file (or print the commented example of every key)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", help="TOML file to check")
    parser.add_argument(
        "--print-example", action="store_true", help="print the example with every key and exit"
    )


def run(args: argparse.Namespace) -> int:
    if args.print_example:
        sys.stdout.write(example_toml())
        return 0
    if not args.file:
        print("crampwatch check-config: give a FILE or --print-example", file=sys.stderr)
        return 2
    load_settings(args.file)  # raises ConfigError -> exit 78
    print(f"{args.file}: OK")
    return 0
