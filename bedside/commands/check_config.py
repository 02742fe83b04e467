"""``crampwatch check-config FILE``: load a configuration and report the first mistake."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from bedside.config.settings import example_toml, load_settings_file

HELP = "check a configuration file (or print the commented example of every key)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", help="TOML file to check")
    parser.add_argument(
        "--print-example", action="store_true", help="print the example with every key and exit"
    )
    parser.add_argument("--json", action="store_true",
                        help="print the checked file's every setting (defaults filled in) as JSON")


def run(args: argparse.Namespace) -> int:
    if args.print_example:
        sys.stdout.write(example_toml())
        return 0
    if not args.file:
        print("crampwatch check-config: give a FILE or --print-example", file=sys.stderr)
        return 2
    settings = load_settings_file(Path(args.file))  # raises ConfigError -> exit 78
    if args.json:
        json.dump({"file": args.file, "ok": True, "settings": dataclasses.asdict(settings)},
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(f"{args.file}: OK")
    return 0
