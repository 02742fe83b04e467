"""Truth files and scoring from files: a simulated night's ``NIGHT.truth.json`` (or labels
applied over one, ``bedside.offline.labels``) against the detector's event JSONL. Every problem
with a file is an :class:`InputError` (exit 65) naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bedside.offline.scoring import NightScore, parse_truth, score_night
from bedside.stream.night import night_name
from bedside.stream.records import json_lines, load_json_file
from firmware_bridge.errors import InputError


def read_truth(path: Path) -> dict[str, Any]:
    """Parse a truth JSON file; :class:`InputError` if it is not a JSON object."""
    truth = load_json_file(path)
    if not isinstance(truth, dict):
        raise InputError(f"{path}: a truth file must hold a JSON object", path=str(path))
    return truth


def checked_truth(truth: dict[str, Any], path: Path) -> dict[str, Any]:
    """``truth`` if the scorer can use it; else :class:`InputError` naming ``path``."""
    try:
        parse_truth(truth)
    except ValueError as exc:
        raise InputError(f"{path}: {exc}", path=str(path)) from exc
    return truth


def read_event_objects(path: Path) -> list[dict[str, Any]]:
    """Event JSON objects of a JSONL file, strictly (the scorer reads any detector's output,
    so it checks the fields it needs itself): :class:`InputError` names the first bad line."""
    events: list[dict[str, Any]] = []
    for lineno, obj, why in json_lines(path):
        if why is not None:
            raise InputError(f"{path}:{lineno}: {why}", path=str(path))
        if not isinstance(obj, dict):
            raise InputError(f"{path}:{lineno}: an event must be a JSON object", path=str(path))
        events.append(obj)
    return events


def score_files(truth: dict[str, Any], truth_path: Path, events_path: Path) -> NightScore:
    """Score the events of ``events_path`` (event JSONL, read strictly) against ``truth`` (read
    from ``truth_path``); every problem is an :class:`InputError` naming its file."""
    checked_truth(truth, truth_path)
    events = read_event_objects(events_path)
    _check_same_night(truth, truth_path, events, events_path)
    # the truth is fine, so a ValueError below is the events file's
    try:
        return score_night(truth, events, name=night_name(truth_path))
    except ValueError as exc:
        raise InputError(f"{events_path}: {exc}", path=str(events_path)) from exc


# An event may end a little after the last whole second the truth counts (a cramp still
# active at the end is closed at the last sample): more than this past the end is another night.
END_SLACK_S = 1.0
_TIMES = ("t_onset", "t_detect", "t_end")


def _check_same_night(truth: dict[str, Any], truth_path: Path, events: list[dict[str, Any]],
                      events_path: Path) -> None:
    """:class:`InputError` if an event lies past the truth's night: the files do not belong
    together (scoring them would count its cramps as missed and the events as false alarms)."""
    duration = truth.get("duration_s")
    if not isinstance(duration, int | float) or isinstance(duration, bool):
        raise InputError(f"{truth_path}: no numeric 'duration_s'", path=str(truth_path))
    times = [float(e[k]) for e in events for k in _TIMES
             if isinstance(e.get(k), int | float) and not isinstance(e.get(k), bool)]
    latest = max(times, default=0.0)
    if latest > duration + END_SLACK_S:
        raise InputError(
            f"mismatched nights: {events_path} has an event at {latest:g} s, past the end of "
            f"{truth_path} ({duration:g} s); give each night's truth with its own events",
            path=str(events_path),
        )
