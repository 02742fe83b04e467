"""The bedtime stretching reminder, its guided routine and its adherence log.

Nightly calf stretching before bed reduced night cramps in adults over 55 (Hallegraeff et al.,
J Physiother 2012;58:17, PubMed 22341378), so at ``reminder_time`` crampwatch says
``texts.bedtime`` and then guides the routine of ``[prompt.routine]`` step by step, the holds
counted out (:mod:`bedside.prompt.routine`), and hands a payload to a publish hook (the MQTT side
sends it); the user confirms "done" (MQTT button or ``crampwatch prompt done``). The reminder,
each step once it has been guided to its end, and the confirmation are appended to a small JSONL
log, one object per line::

    {"night": "2026-11-26", "event": "reminded", "time": "2026-11-26T21:30:00+01:00"}
    {"night": "2026-11-26", "event": "step", "step": "calf", "time": "2026-11-26T21:32:41+01:00"}
    {"night": "2026-11-26", "event": "done", "time": "2026-11-26T21:41:12+01:00"}

A ``step`` record says the step was *guided* (every line of it was handed to the speaker); only
"done" says the user stretched.

A *night* is named by the date of its evening: local times from 12:00 on day D to 11:59 on D+1
belong to night D. :meth:`AdherenceLog.summary` gives the nightly-summary view, and, given cramp
counts per night, the mean cramps on stretching nights and on other nights.

No paho, no bleak; the clock is injected.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from bedside.config.prompt import PromptSettings, parse_hhmm
from bedside.prompt.engine import local_now
from bedside.prompt.routine import Cue, routine_plan
from bedside.stream.night import NIGHT_STARTS_HOUR, night_of
from bedside.stream.records import loads_line

log = logging.getLogger(__name__)

REMINDER_WINDOW = timedelta(hours=3)  # started later than this after reminder_time: no reminder
LATE_CUE_S = 2.0  # a routine line this late (the loop stalled, the clock jumped) is skipped
Kind = Literal["reminded", "step", "done"]


@dataclass(frozen=True, slots=True)
class NightAdherence:
    """One night: when it was reminded and when the stretch was confirmed (ISO-8601 or None),
    and the routine steps guided to their end, in order."""

    night: str
    reminded_at: str | None
    done_at: str | None
    cramps: int | None
    steps: tuple[str, ...] = ()

    @property
    def stretched(self) -> bool:
        return self.done_at is not None


@dataclass(frozen=True, slots=True)
class AdherenceSummary:
    """The last ``nights`` nights up to ``until``: counts, adherence fraction 0–1, streak
    (consecutive stretched nights ending at ``until``), and mean cramps per night on stretching
    and other nights (``None`` without cramp counts for such nights)."""

    until: str
    nights: int
    reminded: int
    stretched: int
    adherence: float
    streak: int
    mean_cramps_stretched: float | None
    mean_cramps_other: float | None
    per_night: tuple[NightAdherence, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (for the nightly summary and MQTT)."""
        out = asdict(self)
        out["per_night"] = [
            {**asdict(n), "steps": list(n.steps), "stretched": n.stretched} for n in self.per_night
        ]
        return out


class AdherenceLog:
    """Append-only JSONL of reminders and confirmations; unreadable lines are counted, skipped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bad_lines = 0

    def append(self, kind: Kind, wall: datetime, *, step: str = "") -> None:
        """Record ``kind`` (a ``step`` names its ``step``) at local time ``wall`` (aware).
        Raises ``OSError`` if unwritable."""
        record = {"night": night_of(wall).isoformat(), "event": kind, "time": wall.isoformat()}
        if kind == "step":
            record["step"] = step
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    def records(self) -> list[dict[str, str]]:
        """Every well-formed record in file order (a missing file is an empty log)."""
        self.bad_lines = 0
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.warning("prompt: cannot read %s: %s", self.path, exc.strerror)
            return []
        out: list[dict[str, str]] = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec: Any = loads_line(line)  # bounded: a hand-edited or damaged file
                ok = (
                    isinstance(rec, dict)
                    and rec.get("event") in ("reminded", "step", "done")
                    and isinstance(rec.get("time"), str)
                    and (rec["event"] != "step" or isinstance(rec.get("step"), str))
                    and date.fromisoformat(rec["night"]) is not None
                )
            except (ValueError, TypeError, KeyError):
                ok = False
            if not ok:
                self.bad_lines += 1
                log.warning("%s:%d: skipping an unreadable adherence record", self.path, number)
                continue
            kept = {"night": rec["night"], "event": rec["event"], "time": rec["time"]}
            if rec["event"] == "step":
                kept["step"] = rec["step"]
            out.append(kept)
        return out

    def night(self, night: date) -> NightAdherence:
        """What is known about one night."""
        key = night.isoformat()
        return _nights(self.records()).get(key, NightAdherence(key, None, None, None))

    def summary(
        self,
        *,
        until: date,
        nights: int = 14,
        cramp_counts: Mapping[str, int] | None = None,
    ) -> AdherenceSummary:
        """The ``nights`` nights ending with night ``until``; ``cramp_counts``: night → cramps."""
        if nights < 1:
            raise ValueError(f"nights must be ≥ 1, got {nights}")
        known = _nights(self.records())
        counts = cramp_counts or {}
        per_night = []
        for back in range(nights - 1, -1, -1):
            key = (until - timedelta(days=back)).isoformat()
            got = known.get(key, NightAdherence(key, None, None, None))
            per_night.append(dataclasses.replace(got, cramps=counts.get(key)))
        streak = 0
        for n in reversed(per_night):
            if not n.stretched:
                break
            streak += 1
        stretched = [n.cramps for n in per_night if n.stretched and n.cramps is not None]
        other = [n.cramps for n in per_night if not n.stretched and n.cramps is not None]
        n_stretched = sum(n.stretched for n in per_night)
        return AdherenceSummary(
            until=until.isoformat(),
            nights=nights,
            reminded=sum(n.reminded_at is not None for n in per_night),
            stretched=n_stretched,
            adherence=n_stretched / nights,
            streak=streak,
            mean_cramps_stretched=sum(stretched) / len(stretched) if stretched else None,
            mean_cramps_other=sum(other) / len(other) if other else None,
            per_night=tuple(per_night),
        )


def _nights(records: list[dict[str, str]]) -> dict[str, NightAdherence]:
    """Night → what the log says of it: the first reminder and "done", the steps in order."""
    first: dict[str, dict[str, str]] = {}
    steps: dict[str, list[str]] = {}
    for rec in records:
        if rec["event"] == "step":
            steps.setdefault(rec["night"], []).append(rec["step"])
        else:
            first.setdefault(rec["night"], {}).setdefault(rec["event"], rec["time"])
    return {
        night: NightAdherence(night, first.get(night, {}).get("reminded"),
                              first.get(night, {}).get("done"), None,
                              tuple(steps.get(night, ())))
        for night in first.keys() | steps.keys()
    }  # fmt: skip


@dataclass(slots=True)
class _RoutineRun:
    """A routine being guided: its night, start (local), the cues still to say, and the steps
    with a line that could not be said."""

    night: str
    started: datetime
    cues: deque[Cue]
    missed: set[str] = dataclasses.field(default_factory=set)


class BedtimeReminder:
    """Speaks (``speak(key) -> bool``) and publishes (``publish(payload)``) the bedtime reminder.

    Call :meth:`tick` every second or faster (or ``await run()``); it reminds once per night, when
    the local time has reached ``reminder_time`` and is less than 3 h past it (so a daemon started
    at 03:00 stays quiet), and then says the routine's lines as they fall due (a line more than
    ``LATE_CUE_S`` late is skipped, and its step is not logged). ``publish`` receives
    ``{"event": "bedtime_reminder", "night", "time", "text"}`` and, on confirmation,
    ``{"event": "bedtime_stretch_done", "night", "time"}``.
    Hook failures are logged and counted; they never stop the reminder.
    """

    def __init__(
        self,
        settings: PromptSettings,
        adherence: AdherenceLog,
        *,
        speak: Callable[[str], bool] | None = None,
        publish: Callable[[Mapping[str, Any]], None] | None = None,
        wall_clock: Callable[[], datetime] = local_now,
    ) -> None:
        self.settings = settings
        self.adherence = adherence
        self._speak = speak
        self._publish = publish
        self._wall = wall_clock
        self._at = parse_hhmm(settings.reminder_time, "reminder_time")
        self._reminded: set[str] = set()
        self._done: set[str] = set()
        self._routine: _RoutineRun | None = None
        self.counts = {"reminders": 0, "confirmations": 0, "stale_commands": 0, "hook_errors": 0,
                       "routine_lines": 0, "routine_lines_missed": 0, "steps": 0}  # fmt: skip
        for rec in adherence.records():  # a restart must not remind twice
            if rec["event"] == "reminded":
                self._reminded.add(rec["night"])
            elif rec["event"] == "done":
                self._done.add(rec["night"])

    def due_at(self, wall: datetime) -> datetime | None:
        """When the reminder of ``wall``'s night is (was) due; ``None`` if reminders are off."""
        if self._at is None:
            return None
        night = night_of(wall)
        day = night if self._at.hour >= NIGHT_STARTS_HOUR else night + timedelta(days=1)
        return datetime.combine(day, self._at, tzinfo=wall.tzinfo)

    def tick(self) -> bool:
        """Remind if due now, and say the routine's lines that fell due; ``True`` if it
        reminded."""
        wall = self._wall()
        self._guide(wall)
        due = self.due_at(wall)
        night = night_of(wall).isoformat()
        if due is None or night in self._reminded or not due <= wall < due + REMINDER_WINDOW:
            return False
        self._reminded.add(night)
        self.counts["reminders"] += 1
        self._record("reminded", wall)
        if self.settings.reminder_speak and self._speak is not None:
            self._routine = _RoutineRun(night, wall, deque(routine_plan(self.settings)))
            self._guide(wall)  # the first line now
        payload = {
            "event": "bedtime_reminder",
            "night": night,
            "time": wall.isoformat(),
            "text": self.settings.texts.bedtime,
        }
        if self._publish is not None:
            self._call(self._publish, payload)
        log.info("prompt: bedtime stretching reminder for the night of %s", night)
        return True

    def confirm_done(self, *, issued_at: datetime | None = None) -> bool:
        """The user stretched: log it once per night. Stale commands (older than
        ``command_max_age_s`` by ``issued_at``) are refused with ``False``."""
        wall = self._wall()
        if issued_at is not None:
            age = (wall - issued_at).total_seconds()
            if abs(age) > self.settings.command_max_age_s:
                self.counts["stale_commands"] += 1
                log.warning("prompt: ignoring a stale 'done' command (%.0f s old)", age)
                return False
        night = night_of(wall).isoformat()
        if night in self._done:
            return True
        self._done.add(night)
        self.counts["confirmations"] += 1
        self._record("done", wall)
        if self._speak is not None and self.settings.texts.bedtime_thanks.strip():
            self._call(self._speak, "bedtime_thanks")
        payload = {"event": "bedtime_stretch_done", "night": night, "time": wall.isoformat()}
        if self._publish is not None:
            self._call(self._publish, payload)
        return True

    def summary(
        self, *, nights: int = 14, cramp_counts: Mapping[str, int] | None = None
    ) -> AdherenceSummary:
        """Adherence over the last ``nights`` nights up to tonight (for the nightly summary)."""
        return self.adherence.summary(
            until=night_of(self._wall()), nights=nights, cramp_counts=cramp_counts
        )

    async def run(
        self, *, interval_s: float = 0.5, sleep: Callable[[float], Any] = asyncio.sleep
    ) -> None:
        """Tick forever (cancel to stop); the routine's counts need a tick every second."""
        while True:
            self.tick()
            await sleep(interval_s)

    @property
    def guiding(self) -> bool:
        """Is a routine being said?"""
        return self._routine is not None

    def _guide(self, wall: datetime) -> None:
        """Say the routine's lines due by ``wall``; log a step once its last line was said."""
        run = self._routine
        if run is None or self._speak is None:
            return
        elapsed = (wall - run.started).total_seconds()
        while run.cues and run.cues[0].at_s <= elapsed:
            cue = run.cues.popleft()
            said = elapsed - cue.at_s <= LATE_CUE_S and self._call(self._speak, cue.key) is True
            if said:
                self.counts["routine_lines"] += 1
            else:
                self.counts["routine_lines_missed"] += 1
                run.missed.add(cue.step)
            if cue.completes_step and said and cue.step not in run.missed:
                self.counts["steps"] += 1
                self._record("step", wall, step=cue.step)
        if not run.cues:
            self._routine = None

    def _record(self, kind: Kind, wall: datetime, *, step: str = "") -> None:
        try:
            self.adherence.append(kind, wall, step=step)
        except OSError as exc:
            self.counts["hook_errors"] += 1
            log.warning("prompt: cannot write %s: %s", self.adherence.path, exc.strerror)

    def _call(self, hook: Callable[[Any], object], argument: Any) -> object:
        """The hook's result, or ``None`` when it raised (logged and counted)."""
        try:
            return hook(argument)
        except Exception as exc:  # a hook's bug must not stop reminders or detection
            self.counts["hook_errors"] += 1
            log.warning("prompt: reminder hook failed: %s: %s", type(exc).__name__, exc)
            return None
