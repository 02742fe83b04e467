"""``crampwatch score TRUTH.json EVENTS.jsonl [TRUTH2 EVENTS2 ...] [--json]``.

Reads each night's truth (``NIGHT.truth.json``, written by the simulator) and the detector's
event JSONL (one event JSON object per line, as ``crampwatch replay`` prints), scores them with
``bedside.offline.scoring`` and prints a table (or ``--json``). Several pairs aggregate. A file that
cannot be used raises :class:`InputError` (exit 65) with one line naming it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bedside.offline.labels import load_truth
from bedside.offline.scoring import aggregate, format_table, to_dict
from bedside.offline.truth import score_files

HELP = "score detector events against a simulated night's truth (several nights aggregate)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="+",
        metavar="TRUTH EVENTS",
        help="pairs: NIGHT.truth.json and the detector's events (JSONL, one event per line)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    files = [Path(f) for f in args.files]
    if len(files) % 2:
        print(
            "crampwatch score: give files in pairs: TRUTH.json EVENTS.jsonl [TRUTH2 EVENTS2 ...]",
            file=sys.stderr,
        )
        return 2
    corpus = aggregate(
        score_files(load_truth(t), t, e) for t, e in zip(files[::2], files[1::2], strict=True)
    )
    if args.json:
        json.dump(to_dict(corpus), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_table(corpus))
    return 0
