"""Spoken fault alerts: equipment trouble said once, softly, at the bedside. Pure logic.

Many users have no dashboard open at 3 am, so the bedside speaker says when monitoring has
stopped working: an electrode or the strap is off (the detector's quality ``lead_off``), the
contact is poor (``noisy`` or ``hum``), a wearable's battery is low, a wearable has not been heard
for a while after streaming tonight, or the state directory's disk is nearly full. Modelled on
OpenSeizureDetector's fault warning (``SdServer.faultWarningBeep``: a fault must last its fault
timer before the short, quiet fault beep, and the user can mute it for a while).

:class:`FaultMonitor` takes what the daemon knows (:class:`LegHealth` per wearable, free disk
space, whether the speaker is free) and the time, and returns the alerts to say now; it never
sleeps and does no I/O. Per fault kind and leg an *episode* runs from the first bad observation:

* signal faults (``lead_off``, ``poor_contact``) are timed on the leg's stream time (seconds of
  signal, so a replay at any speed behaves as the night did); the time between two bad
  observations counts as bad; bad for at least half of an episode of ``*_after_s`` → due. Good
  signal for :data:`CLEAR_S` s ends the episode (the detector's quality gate holds 5 s; a turn
  in bed lasts 3–45 s [IRL21, physiology.md §2]).
* ``link_lost``: not streaming for ``link_lost_after_s`` (monotonic s), counted only once the leg
  has streamed inside tonight's window (a wearable left off for the night is not a fault).
* ``battery_low``: at or below ``battery_low_pct``; it ends only above that by
  :data:`BATTERY_HYSTERESIS_PCT` (a reading that wobbles by 1 % is one episode).
* ``disk_full``: free space below ``disk_free_min_mb``.

A due episode is said once (outcome ``spoken``) or recorded with why not: ``cooldown`` (the same
kind and leg was said less than its ``cooldown_s`` ago), ``quiet_hours``, ``silenced`` (silence
for the night), ``off`` (alerts disabled) or ``no_speaker``. While a cramp sequence is being said
it waits. Nothing is said outside ``active_from``–``active_until`` (the wearable is not worn
then); entering the window starts afresh. Every alert is kept for the night summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from bedside.config.prompt import (
    FAULT_KINDS,
    PromptSettings,
    PromptTexts,
    in_window,
    parse_hhmm,
)
from bedside.stream.night import local_night
from detector.types import Quality

CLEAR_S = 30.0  # good signal for this long ends a signal-fault episode
BATTERY_HYSTERESIS_PCT = 5
SENSOR_NAMES = {"left": "left calf sensor", "right": "right calf sensor"}
GENERIC_SENSOR = "calf sensor"
SIGNAL_FAULTS = {Quality.LEAD_OFF: "lead_off", Quality.NOISY: "poor_contact",
                 Quality.HUM: "poor_contact"}  # fmt: skip

Outcome = Literal["spoken", "cooldown", "quiet_hours", "silenced", "off", "no_speaker"]
Speaker = Literal["free", "busy", "silenced", "none"]


@dataclass(frozen=True, slots=True)
class LegHealth:
    """One wearable now: its label, whether it streams, the detector's quality (``None`` before
    the first data), the leg's stream time in s, its battery in % (``None``: not known), and
    whether the link refused it as a device crampwatch cannot read."""

    leg: str
    streaming: bool
    quality: Quality | None
    stream_t: float
    battery_percent: int | None
    unsupported: bool = False


@dataclass(frozen=True, slots=True)
class FaultAlert:
    """A fault that became due: its kind, leg (``None`` for the disk), phrase key, when the
    fault began and when it was due (local ISO 8601), and whether it was said."""

    kind: str
    leg: str | None
    key: str
    since: str
    time: str
    outcome: Outcome

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "leg": self.leg, "since": self.since, "time": self.time,
                "outcome": self.outcome}  # fmt: skip


def fault_key(kind: str, leg: str | None) -> str:
    """The phrase key of an alert: ``fault.lead_off.left``, or ``fault.disk_full``."""
    return f"fault.{kind}.{leg}" if leg in SENSOR_NAMES else f"fault.{kind}"


def fault_texts(texts: PromptTexts) -> dict[str, str]:
    """Phrase key → text of every alert, per named leg and for any other label."""
    out: dict[str, str] = {}
    for kind in FAULT_KINDS:
        text: str = getattr(texts, f"fault_{kind}")
        out[fault_key(kind, None)] = text.replace("{sensor}", GENERIC_SENSOR)
        if kind != "disk_full":
            for leg, sensor in SENSOR_NAMES.items():
                out[fault_key(kind, leg)] = text.replace("{sensor}", sensor)
    return out


@dataclass(slots=True)
class _Episode:
    started: float  # on the episode's own clock (stream s or monotonic s)
    since: str  # local wall time, ISO
    last: float  # the clock at the last observation
    bad_s: float = 0.0
    was_bad: bool = True  # at the last observation
    good_since: float | None = None
    done: bool = False  # said or recorded: once per episode


class FaultMonitor:
    """Pure fault-alert logic; call :meth:`observe` every second or so. See the module doc."""

    def __init__(self, settings: PromptSettings) -> None:
        self.s = settings.faults
        self._quiet = (parse_hhmm(settings.quiet_hours_start, "quiet_hours_start"),
                       parse_hhmm(settings.quiet_hours_end, "quiet_hours_end"))  # fmt: skip
        self._window = (parse_hhmm(self.s.active_from, "active_from"),
                        parse_hhmm(self.s.active_until, "active_until"))  # fmt: skip
        self._episodes: dict[tuple[str, str | None], _Episode] = {}
        self._said: dict[tuple[str, str | None], float] = {}  # monotonic s of the last spoken
        self._streamed: set[str] = set()  # legs that streamed inside tonight's window
        self._in_window = False
        self.alerts: list[FaultAlert] = []

    def alerts_of_night(self, night: str) -> list[FaultAlert]:
        """The alerts of one night (``YYYY-MM-DD``, named by its evening)."""
        return [a for a in self.alerts if local_night(datetime.fromisoformat(a.time)) == night]

    def observe(
        self,
        legs: Sequence[LegHealth],
        *,
        disk_free_mb: float | None,
        now: float,
        wall: datetime,
        speaker: Speaker = "free",
        disk_full: bool = False,
    ) -> list[FaultAlert]:
        """Feed the current state; returns the alerts to say now (``outcome == "spoken"``).
        ``disk_full``: a write already failed for lack of space (whatever ``disk_free_mb`` says).

        ``now``: monotonic s; ``wall``: aware local time; ``speaker``: ``busy`` while a cramp
        sequence is said (due alerts wait), ``silenced`` for the night, ``none`` without audio.
        """
        inside = in_window(wall.time(), *self._window)
        if not inside:
            self._in_window = False
            return []
        if not self._in_window:  # a new night: start afresh
            self._in_window = True
            self._episodes.clear()
            self._streamed.clear()
        due: list[tuple[str, str | None]] = []
        for h in legs:
            if h.streaming:
                self._streamed.add(h.leg)
            bad = SIGNAL_FAULTS.get(h.quality) if h.streaming and h.quality else None
            signal_after = {"lead_off": self.s.lead_off_after_s,
                            "poor_contact": self.s.poor_contact_after_s}  # fmt: skip
            for kind, after in signal_after.items():
                if self._signal(kind, h.leg, bad == kind, h.stream_t, wall, after):
                    due.append((kind, h.leg))
            low = h.battery_percent is not None and h.battery_percent <= self.s.battery_low_pct
            recovered = (h.battery_percent is not None
                         and h.battery_percent > self.s.battery_low_pct + BATTERY_HYSTERESIS_PCT)
            if self._state("battery_low", h.leg, low, not recovered, now, wall, 0.0):
                due.append(("battery_low", h.leg))
            lost = not h.streaming and h.leg in self._streamed
            if self._state("link_lost", h.leg, lost, lost, now, wall, self.s.link_lost_after_s):
                due.append(("link_lost", h.leg))
            if self._state("unsupported_device", h.leg, h.unsupported, h.unsupported, now, wall,
                           0.0):
                due.append(("unsupported_device", h.leg))
        full = disk_full or (disk_free_mb is not None and disk_free_mb < self.s.disk_free_min_mb)
        if self._state("disk_full", None, full, full, now, wall, 0.0):
            due.append(("disk_full", None))
        if speaker == "busy":
            return []  # after the cramp sequence: the episodes stay due
        spoken = []
        for kind, leg in due:
            alert = self._decide(kind, leg, now, wall, speaker)
            self.alerts.append(alert)
            self._episodes[(kind, leg)].done = True
            if alert.outcome == "spoken":
                self._said[(kind, leg)] = now
                spoken.append(alert)
        return spoken

    # ---- internals ----
    def _signal(
        self, kind: str, leg: str, bad: bool, t: float, wall: datetime, after_s: float
    ) -> bool:
        """Track a signal-fault episode on stream time ``t``; True when it is due now."""
        ep = self._episodes.get((kind, leg))
        if ep is None:
            if bad:
                self._episodes[(kind, leg)] = _Episode(t, wall.isoformat(), t)
            return False
        if bad and ep.was_bad and t > ep.last:
            ep.bad_s += t - ep.last
        ep.last, ep.was_bad = t, bad
        if bad:
            ep.good_since = None
        elif ep.good_since is None:
            ep.good_since = t
        elif t - ep.good_since >= CLEAR_S:
            del self._episodes[(kind, leg)]
            return False
        lasted = t - ep.started
        return not ep.done and lasted >= after_s and ep.bad_s >= 0.5 * lasted

    def _state(
        self, kind: str, leg: str | None, bad: bool, holds: bool, now: float, wall: datetime,
        after_s: float,
    ) -> bool:
        """Track a state fault (begins when ``bad``, lasts while ``holds``); True when due."""
        ep = self._episodes.get((kind, leg))
        if ep is None:
            if not bad:
                return False
            ep = self._episodes[(kind, leg)] = _Episode(now, wall.isoformat(), now)
        elif not holds:
            del self._episodes[(kind, leg)]
            return False
        return not ep.done and now - ep.started >= after_s

    def _decide(
        self, kind: str, leg: str | None, now: float, wall: datetime, speaker: Speaker
    ) -> FaultAlert:
        last = self._said.get((kind, leg))
        outcome: Outcome
        if not self.s.enabled:
            outcome = "off"
        elif last is not None and now - last < self.s.cooldown(kind):
            outcome = "cooldown"
        elif in_window(wall.time(), *self._quiet):
            outcome = "quiet_hours"
        elif speaker == "silenced":
            outcome = "silenced"
        elif speaker == "none":
            outcome = "no_speaker"
        else:
            outcome = "spoken"
        ep = self._episodes[(kind, leg)]
        return FaultAlert(kind, leg, fault_key(kind, leg), ep.since, wall.isoformat(), outcome)
