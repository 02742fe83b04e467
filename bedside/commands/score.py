"""``crampwatch score TRUTH.json EVENTS.jsonl [TRUTH2 EVENTS2 ...] [--json]``.

Reads each night's truth (``NIGHT.truth.json``, written by the simulator) and the detector's
event JSONL (one event JSON object per line, as ``crampwatch replay`` prints), scores them with
``detector.scoring`` and prints a table (or ``--json``). Several pairs aggregate. A file that
cannot be used raises :class:`InputError` (exit 65) with one line naming it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from detector.scoring import (
    NightScore,
    aggregate,
    format_table,
    parse_truth,
    score_night,
    to_dict,
)
from firmware_bridge.errors import InputError

HELP = "score detector events against a simulated night's truth (several nights aggregate)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="+",
        metavar="TRUTH EVENTS",
        help="pairs: NIGHT.truth.json and the detector's events (JSONL, one event per line)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file", path=str(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}", path=str(path)) from exc


def read_truth(path: Path) -> dict[str, Any]:
    """Parse a truth JSON file; :class:`InputError` if it is not a JSON object."""
    try:
        truth = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON: {exc}", path=str(path)) from exc
    if not isinstance(truth, dict):
        raise InputError(f"{path}: a truth file must hold a JSON object", path=str(path))
    return truth


def read_events(path: Path) -> list[dict[str, Any]]:
    """Parse event JSONL (blank lines skipped); :class:`InputError` names the bad line."""
    events: list[dict[str, Any]] = []
    for lineno, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{lineno}: not JSON: {exc.msg}", path=str(path)) from exc
        if not isinstance(event, dict):
            raise InputError(f"{path}:{lineno}: an event must be a JSON object", path=str(path))
        events.append(event)
    return events


def night_name(truth_path: Path) -> str:
    """``dense-s7.truth.json`` → ``dense-s7``."""
    name = truth_path.name
    for suffix in (".truth.json", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def score_files(truth_path: Path, events_path: Path) -> NightScore:
    """Read and score one night; every problem becomes an :class:`InputError`."""
    from bedside.labels import load_truth  # a truth JSON, or labels applied over one

    truth = load_truth(truth_path)
    events = read_events(events_path)
    try:
        parse_truth(truth)
    except ValueError as exc:
        raise InputError(f"{truth_path}: {exc}", path=str(truth_path)) from exc
    # the truth is fine, so a ValueError below is the events file's
    try:
        return score_night(truth, events, name=night_name(truth_path))
    except ValueError as exc:
        raise InputError(f"{events_path}: {exc}", path=str(events_path)) from exc


def run(args: argparse.Namespace) -> int:
    files = [Path(f) for f in args.files]
    if len(files) % 2:
        print(
            "crampwatch score: give files in pairs: TRUTH.json EVENTS.jsonl [TRUTH2 EVENTS2 ...]",
            file=sys.stderr,
        )
        return 2
    corpus = aggregate(score_files(t, e) for t, e in zip(files[::2], files[1::2], strict=True))
    if args.json:
        json.dump(to_dict(corpus), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_table(corpus))
    return 0
