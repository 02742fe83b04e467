"""Nights: which night a moment belongs to, what a file's night is called, and the night's
summary (cramp count and durations) that the daemon publishes and the report shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bedside.stream.records import EventRecord, read_events
from detector.types import EventKind

NIGHT_STARTS_HOUR = 12  # a night runs from noon to noon, named by its evening's date


def night_of(wall: datetime) -> date:
    """The night a local time belongs to (the date of that night's evening); an aware time is
    taken in its own zone, so convert it to local time first where that matters."""
    return (wall - timedelta(hours=NIGHT_STARTS_HOUR)).date()


def local_night(moment: datetime) -> str:
    """The ISO date of the night ``moment`` falls in, in this machine's local time: the rule
    reports, summaries and the adherence log share."""
    return night_of(moment.astimezone()).isoformat()


def night_name(path: Path) -> str:
    """A recording's or truth file's night name: ``dense-s7.truth.json`` → ``dense-s7``,
    ``night.edf`` → ``night``."""
    name = path.name
    for suffix in (".truth.json", ".labels.json", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name.split(".")[0]


def restore_night(history: Path, night: str) -> list[EventRecord]:
    """Tonight's events from the event history, so a restart (crash, SIGHUP, update) keeps the
    night's count; unreadable lines are skipped with one warning."""
    if not history.exists():
        return []
    restored: list[EventRecord] = []
    for record in read_events(history).events:  # bad lines are counted and logged there
        try:
            when = datetime.fromisoformat(record.time)
        except ValueError:
            continue
        if local_night(when) == night:
            restored.append(record)
    return restored


@dataclass
class NightSummary:
    """What the daemon tells at the end of a night (and publishes as the nightly summary)."""

    night: str
    cramps: int = 0  # prompted (cramp_started) and recorded after the fact (cramp_recorded)
    recorded: int = 0  # of them, recognised only after they ended: counted, never prompted
    total_cramp_s: float = 0.0
    durations_s: list[float] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)

    def add(self, record: EventRecord) -> None:
        self.events.append(record)
        if record.kind is EventKind.CRAMP_STARTED:
            self.cramps += 1
        elif record.kind is EventKind.CRAMP_RECORDED:
            self.cramps += 1
            self.recorded += 1
        if record.closes:
            duration = record.duration_s or 0.0
            self.durations_s.append(duration)
            self.total_cramp_s += duration

    def as_json(self) -> dict[str, Any]:
        return {
            "night": self.night,
            "cramps": self.cramps,
            "recorded_cramps": self.recorded,
            "total_cramp_s": round(self.total_cramp_s, 1),
            "longest_cramp_s": round(max(self.durations_s, default=0.0), 1),
        }
