"""Event JSON (``docs/contracts.md``): build it from detector events, write and read JSONL.

The same object is printed by ``crampwatch replay``, kept in the outbox and published over MQTT::

    {"event": "cramp_started", "event_id": "<session>:<leg>:<n>:started", "leg": "left",
     "t_onset": 812.4, "t_detect": 815.1, "time": "2026-11-27T01:13:35.100+00:00", "intensity": 4.2}

``t_*`` are seconds of stream time since the session's first sample; ``time`` is the wall clock of
``t_detect`` (started, update) or ``t_end`` (ended): session start + stream time. A naive
``session_start`` (EDF headers carry no time zone) is taken as UTC, so replays are reproducible
on any machine. ``event_id`` is unique per message and stable across replays of a session.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from detector.types import DetectorEvent, EventKind
from firmware_bridge.errors import InputError

log = logging.getLogger(__name__)

TIME_DECIMALS = 3  # stream times to the millisecond: finer than any EMG window we use
INTENSITY_DECIMALS = 2  # multiples of the rest floor; two decimals are plenty for a display
KINDS = frozenset(k.value for k in EventKind)


def _seconds(value: float) -> float:
    return round(float(value), TIME_DECIMALS)


def _intensity(value: float) -> float | None:
    return round(float(value), INTENSITY_DECIMALS) if math.isfinite(value) else None


def wall_clock(session_start: datetime, t_s: float) -> str:
    """ISO-8601 time (ms, with offset) of stream time ``t_s``; naive starts are UTC."""
    start = session_start if session_start.tzinfo else session_start.replace(tzinfo=UTC)
    return (start + timedelta(seconds=t_s)).isoformat(timespec="milliseconds")


def event_record(
    event: DetectorEvent, *, session_id: str, leg: str, session_start: datetime
) -> dict[str, Any]:
    """The event JSON object (a ``dict`` ready for ``json.dumps``) of one detector event.

    ``event_id`` is ``"<session_id>:<leg>:<cramp_number>:started"`` / ``":ended"``; a
    ``cramp_update`` gets ``":update:<t in ms>"``, the field ``t`` and a ``time`` of its own: the
    stream time of the update (``DetectorEvent.t``; ``t_detect`` for producers that leave ``t``
    unset), while ``t_detect`` stays the cramp's detection time. Raises
    ``ValueError`` if ``session_id`` or ``leg`` contains ``":"`` (it would break the id) or an
    ended event lacks ``t_end``.
    """
    for name, value in (("session_id", session_id), ("leg", leg)):
        if not value or ":" in value:
            raise ValueError(f"{name} must be non-empty and free of ':', got {value!r}")
    stem = f"{session_id}:{leg}:{event.cramp_number}"
    record: dict[str, Any] = {"event": event.kind.value}
    if event.kind in (EventKind.CRAMP_ENDED, EventKind.CRAMP_RECORDED):
        # a recorded cramp was recognised only after it was over: dated to the real cramp
        # like an ended one (time = its end), never prompted; its t_detect says how late
        if event.t_end is None:
            raise ValueError(f"{event.kind.value} #{event.cramp_number} has no t_end")
        duration = event.duration_s if event.duration_s is not None else event.t_end - event.t_onset
        recorded = event.kind is EventKind.CRAMP_RECORDED
        record |= {
            "event_id": f"{stem}:{'recorded' if recorded else 'ended'}",
            "leg": leg,
            "t_onset": _seconds(event.t_onset),
        }
        if recorded:
            record["t_detect"] = _seconds(event.t_detect)
        record |= {
            "t_end": _seconds(event.t_end),
            "duration_s": _seconds(duration),
            "time": wall_clock(session_start, event.t_end),
            "intensity": _intensity(event.intensity),
            "peak_intensity": _intensity(event.peak_intensity),
        }
        return record
    # an update's own stream time: every update of a cramp shares its t_detect, and an id
    # built from that made them all one message to consumers that dedupe by event_id
    t_update = event.t if event.t is not None else event.t_detect
    if event.kind is EventKind.CRAMP_UPDATE:
        record["event_id"] = f"{stem}:update:{round(t_update * 1000)}"
    else:
        record["event_id"] = f"{stem}:started"
    record |= {
        "leg": leg,
        "t_onset": _seconds(event.t_onset),
        "t_detect": _seconds(event.t_detect),
    }
    if event.kind is EventKind.CRAMP_UPDATE:
        record["t"] = _seconds(t_update)
    record |= {
        "time": wall_clock(session_start,
                           t_update if event.kind is EventKind.CRAMP_UPDATE else event.t_detect),
        "intensity": _intensity(event.intensity),
    }
    if event.kind is EventKind.CRAMP_UPDATE:
        record["peak_intensity"] = _intensity(event.peak_intensity)
        if event.easing is not None:
            record["easing"] = event.easing
    return record


def dumps(record: dict[str, Any]) -> str:
    """One JSONL line (no newline): compact, UTF-8 kept, keys in contract order."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def write_events(records: Iterable[dict[str, Any]], stream: IO[str]) -> int:
    """Write records as JSONL to ``stream`` and flush; returns how many were written."""
    n = 0
    for record in records:
        stream.write(dumps(record) + "\n")
        n += 1
    stream.flush()
    return n


@dataclass(frozen=True, slots=True, kw_only=True)
class EventLog:
    """What :func:`read_events` found: good events, how many lines were bad, and why."""

    path: Path
    events: list[dict[str, Any]]
    bad_lines: int = 0
    problems: list[str] = field(default_factory=list)  # the first few, "line 7: not JSON"


MAX_PROBLEMS = 10  # the first few bad lines are named; the rest are only counted


def _problem(obj: object) -> str | None:
    if not isinstance(obj, dict):
        return "not a JSON object"
    kind = obj.get("event")
    if not isinstance(kind, str):
        return "no 'event' string"
    if kind in KINDS and not isinstance(obj.get("event_id"), str):
        return f"{kind} without an 'event_id' string"
    return None


def read_events(path: str | os.PathLike[str]) -> EventLog:
    """Read event JSONL tolerantly: blank lines skipped, bad lines counted, named and logged.

    A line is bad if it is not JSON, not an object, or lacks ``event`` (or ``event_id`` for the
    known kinds). Unknown event kinds are kept (newer producers). A missing or unreadable file
    raises :class:`InputError`.
    """
    p = Path(path)
    events: list[dict[str, Any]] = []
    problems: list[str] = []
    bad = 0
    try:
        with p.open("rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    why: str | None = f"not JSON ({exc.__class__.__name__})"
                else:
                    why = _problem(obj)
                if why is None:
                    events.append(obj)
                    continue
                bad += 1
                if len(problems) < MAX_PROBLEMS:
                    problems.append(f"line {lineno}: {why}")
    except FileNotFoundError:
        raise InputError(f"{p}: no such file", path=str(p)) from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read: {exc.strerror or exc}", path=str(p)) from None
    if bad:
        log.warning("%s: %d bad lines skipped (%s)", p, bad, "; ".join(problems[:3]))
    return EventLog(path=p, events=events, bad_lines=bad, problems=problems)
