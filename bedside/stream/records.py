"""Events as typed records (:class:`EventRecord`), and their JSON edge (``docs/contracts.md``):
build them from detector events, write and read JSONL.

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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from detector.types import DetectorEvent, EventKind
from firmware_bridge.errors import InputError
from firmware_bridge.jsonsafe import BadJsonError, loads_bounded

log = logging.getLogger(__name__)

TIME_DECIMALS = 3  # stream times to the millisecond: finer than any EMG window we use
INTENSITY_DECIMALS = 2  # multiples of the rest floor; two decimals are plenty for a display
KINDS = frozenset(k.value for k in EventKind)
# Bounds for JSON read from files (issue #16 item 3): a JSONL line (an event, a label, an
# adherence record) is a flat object of well under 1 KB; a whole file (labels, truth,
# calibration) of a night holds at most a few thousand small objects. Deeper or larger is hostile
# or broken, and is refused before the recursive stdlib parser sees it.
LINE_MAX_BYTES = 64 * 1024
LINE_MAX_DEPTH = 8
FILE_MAX_BYTES = 16 * 1024 * 1024
FILE_MAX_DEPTH = 16


def _seconds(value: float) -> float:
    return round(float(value), TIME_DECIMALS)


def _intensity(value: float) -> float | None:
    return round(float(value), INTENSITY_DECIMALS) if math.isfinite(value) else None


def wall_clock(session_start: datetime, t_s: float) -> str:
    """ISO-8601 time (ms, with offset) of stream time ``t_s``; naive starts are UTC."""
    start = session_start if session_start.tzinfo else session_start.replace(tzinfo=UTC)
    return (start + timedelta(seconds=t_s)).isoformat(timespec="milliseconds")


_CLOSED = frozenset({EventKind.CRAMP_ENDED, EventKind.CRAMP_RECORDED})  # dated by t_end


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    """One cramp event as the rest of the program passes it: typed, immutable; JSON only at the
    edges (:meth:`to_json`, :meth:`from_json`). Fields and units as in ``docs/contracts.md``:
    ``t_*`` are stream seconds since the session start, ``time`` ISO-8601 with offset,
    ``intensity`` a multiple of the rest floor (None when not finite)."""

    kind: EventKind
    event_id: str
    leg: str
    t_onset: float
    time: str
    intensity: float | None
    t_detect: float | None = None  # started, update
    t_end: float | None = None  # ended (and recorded)
    duration_s: float | None = None  # ended (and recorded)
    t: float | None = None  # update: the update's own stream time
    peak_intensity: float | None = None  # update, ended
    easing: bool | None = None  # update: the level fell below (True) or rose above (False)

    @property
    def closes(self) -> bool:
        """True for the kinds that describe a whole cramp (``cramp_ended``, ``cramp_recorded``)."""
        return self.kind in _CLOSED

    @property
    def stem(self) -> str:
        """``<session>:<leg>:<n>``: what every event of one cramp shares."""
        return self.event_id.rsplit(":", 1)[0] if self.kind is not EventKind.CRAMP_UPDATE \
            else self.event_id.rsplit(":", 2)[0]

    def to_json(self) -> dict[str, Any]:
        """The event JSON object, keys in contract order (``docs/contracts.md``)."""
        record: dict[str, Any] = {"event": self.kind.value, "event_id": self.event_id,
                                  "leg": self.leg, "t_onset": self.t_onset}
        if self.closes:
            if self.kind is EventKind.CRAMP_RECORDED:  # how late it was recognised
                record["t_detect"] = self.t_detect
            record |= {"t_end": self.t_end, "duration_s": self.duration_s, "time": self.time,
                       "intensity": self.intensity, "peak_intensity": self.peak_intensity}
            return record
        record["t_detect"] = self.t_detect
        if self.kind is EventKind.CRAMP_UPDATE:
            record["t"] = self.t
        record |= {"time": self.time, "intensity": self.intensity}
        if self.kind is EventKind.CRAMP_UPDATE:
            record["peak_intensity"] = self.peak_intensity
            if self.easing is not None:
                record["easing"] = self.easing
        return record

    @classmethod
    def from_json(cls, obj: object) -> EventRecord:
        """Parse one event JSON object; ``ValueError`` says what is wrong (one short reason)."""
        if not isinstance(obj, dict):
            raise ValueError("not a JSON object")
        kind = obj.get("event")
        if not isinstance(kind, str):
            raise ValueError("no 'event' string")
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        fields: dict[str, Any] = {"kind": EventKind(kind)}
        for name in ("event_id", "leg", "time"):
            value = obj.get(name)
            if not isinstance(value, str):
                raise ValueError(f"{kind}: no {name!r} string")
            fields[name] = value
        for name in ("t_onset", "intensity", "t_detect", "t_end", "duration_s", "t",
                     "peak_intensity"):
            value = obj.get(name)
            if value is None:
                if name == "t_onset":
                    raise ValueError(f"{kind} without a number 't_onset'")
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value):
                raise ValueError(f"{kind}: {name!r} is not a finite number")
            fields[name] = float(value)
        fields.setdefault("intensity", None)
        easing = obj.get("easing")
        if isinstance(easing, bool):
            fields["easing"] = easing
        record = cls(**fields)
        if record.closes and (record.t_end is None or record.duration_s is None):
            raise ValueError(f"{kind} without 't_end' and 'duration_s'")
        return record


def event_record(
    event: DetectorEvent, *, session_id: str, leg: str, session_start: datetime
) -> EventRecord:
    """The :class:`EventRecord` of one detector event.

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
    if event.kind in _CLOSED:
        if event.t_end is None:
            raise ValueError(f"{event.kind.value} #{event.cramp_number} has no t_end")
        duration = event.duration_s if event.duration_s is not None else event.t_end - event.t_onset
        # a recorded cramp was recognised only after it was over: dated to the real cramp like
        # an ended one (time = its end), never prompted; its t_detect says how late
        recorded = event.kind is EventKind.CRAMP_RECORDED
        return EventRecord(
            kind=event.kind,
            event_id=f"{stem}:{'recorded' if recorded else 'ended'}",
            leg=leg,
            t_onset=_seconds(event.t_onset),
            t_detect=_seconds(event.t_detect) if recorded else None,
            t_end=_seconds(event.t_end),
            duration_s=_seconds(duration),
            time=wall_clock(session_start, event.t_end),
            intensity=_intensity(event.intensity),
            peak_intensity=_intensity(event.peak_intensity),
        )
    if event.kind is EventKind.CRAMP_UPDATE:
        # an update's own stream time: every update of a cramp shares its t_detect, and an id
        # built from that made them all one message to consumers that dedupe by event_id
        t_update = event.t if event.t is not None else event.t_detect
        return EventRecord(
            kind=event.kind,
            event_id=f"{stem}:update:{round(t_update * 1000)}",
            leg=leg,
            t_onset=_seconds(event.t_onset),
            t_detect=_seconds(event.t_detect),
            t=_seconds(t_update),
            time=wall_clock(session_start, t_update),
            intensity=_intensity(event.intensity),
            peak_intensity=_intensity(event.peak_intensity),
            easing=event.easing,
        )
    return EventRecord(
        kind=event.kind,
        event_id=f"{stem}:started",
        leg=leg,
        t_onset=_seconds(event.t_onset),
        t_detect=_seconds(event.t_detect),
        time=wall_clock(session_start, event.t_detect),
        intensity=_intensity(event.intensity),
    )


def dumps(record: EventRecord) -> str:
    """One JSONL line (no newline): compact, UTF-8 kept, keys in contract order."""
    return json.dumps(record.to_json(), ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False)


def write_events(records: Iterable[EventRecord], stream: IO[str]) -> int:
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
    events: list[EventRecord]
    bad_lines: int = 0
    problems: list[str] = field(default_factory=list)  # the first few, "line 7: not JSON"
    other_kinds: int = 0  # well-formed lines of kinds this version does not know (newer producers)


MAX_PROBLEMS = 10  # the first few bad lines are named; the rest are only counted


def loads_line(raw: bytes | str) -> object:
    """One JSONL line's value, bounded (:data:`LINE_MAX_BYTES`, :data:`LINE_MAX_DEPTH`);
    :class:`BadJsonError` (a ``ValueError``) with a short reason otherwise."""
    return loads_bounded(raw, max_bytes=LINE_MAX_BYTES, max_depth=LINE_MAX_DEPTH)


def json_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, object | None, str | None]]:
    """Walk a JSONL file: ``(line number, value, None)`` for each JSON line and ``(line number,
    None, why)`` for each line that is not usable JSON (:func:`loads_line`'s bounds); blank lines
    are skipped. A missing or unreadable file raises :class:`InputError`. The one JSONL reader:
    events, scoring inputs, labels, adherence."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    value = loads_line(raw)
                except BadJsonError as exc:
                    yield lineno, None, _not_json(exc)
                    continue
                yield lineno, value, None
    except FileNotFoundError:
        raise InputError(f"{p}: no such file", path=str(p)) from None
    except OSError as exc:
        raise InputError(f"{p}: cannot read: {exc.strerror or exc}", path=str(p)) from None


def load_json_file(path: str | os.PathLike[str]) -> Any:
    """The JSON value of a whole file (labels, truth, calibration), bounded by
    :data:`FILE_MAX_BYTES` and :data:`FILE_MAX_DEPTH`. :class:`InputError` with one line naming
    ``path`` if it is missing, unreadable or not usable JSON; ``FileNotFoundError`` is kept as
    the InputError's ``__cause__`` for callers to whom a missing file is no error."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(FILE_MAX_BYTES + 1)  # never more than the bound in memory
    except FileNotFoundError as exc:
        raise InputError(f"{p}: no such file", path=str(p)) from exc
    except OSError as exc:
        raise InputError(f"{p}: cannot read: {exc.strerror or exc}", path=str(p)) from None
    try:
        return loads_bounded(raw, max_bytes=FILE_MAX_BYTES, max_depth=FILE_MAX_DEPTH)
    except BadJsonError as exc:
        raise InputError(f"{p}: {_not_json(exc)}", path=str(p)) from None


def _not_json(exc: BadJsonError) -> str:
    """``not JSON: <why>``, the one wording of every way outside JSON is refused."""
    return exc.reason if exc.reason.startswith("not JSON") else f"not JSON: {exc.reason}"


def read_events(path: str | os.PathLike[str]) -> EventLog:
    """Read event JSONL tolerantly: blank lines skipped, bad lines counted, named and logged.

    A line is bad if it is not JSON or not a valid event of a known kind
    (:meth:`EventRecord.from_json`). An object with an ``event`` string of a kind this version
    does not know (a newer producer) is skipped and counted in ``other_kinds``, not bad. A
    missing or unreadable file raises :class:`InputError`.
    """
    p = Path(path)
    events: list[EventRecord] = []
    problems: list[str] = []
    bad = other = 0
    for lineno, obj, why in json_lines(p):
        if why is None:
            if isinstance(obj, dict) and isinstance(obj.get("event"), str) \
                    and obj["event"] not in KINDS:
                other += 1
                continue
            try:
                events.append(EventRecord.from_json(obj))
                continue
            except ValueError as exc:
                why = str(exc)
        bad += 1
        if len(problems) < MAX_PROBLEMS:
            problems.append(f"line {lineno}: {why}")
    if bad:
        log.warning("%s: %d bad lines skipped (%s)", p, bad, "; ".join(problems[:3]))
    return EventLog(path=p, events=events, bad_lines=bad, problems=problems, other_kinds=other)
