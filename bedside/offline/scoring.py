"""Event-level scoring of a detector's output against a simulated night's truth.

Evaluation, not detection, so it lives in the offline room (issue 14), not in ``detector/``.
Pure: mappings and lists in (the parsed truth JSON and event JSON of ``docs/contracts.md``:
it scores any detector's JSONL, ours or a baseline's, so it reads the JSON edge itself),
frozen dataclasses out; no I/O, no clock. ``bedside.commands.score`` reads the files and the
benchmark runner calls :func:`score_night` directly. Imports no other bedside module.

The rule (``docs/contracts.md`` "Scoring rule", issue 15 "Decisions on the targets"):

* a ``cramp_started`` whose ``t_detect`` lies in a required cramp's window
  ``[lead_s, end_s + 2]`` (both ends included) is a *timely hit*: one per cramp, further starts in
  the same window are *fragments*. ``lead_s`` is where a slow build-up or fasciculation prelude
  begins (``onset_s`` if none); a truth without ``lead_s`` (labels, older files) uses
  ``onset_s − 0.5``. Latency is ``t_detect − onset_s`` (the full onset) and may be negative;
* a ``cramp_recorded`` (a cramp recognised after it ended: logged, never prompted) whose
  ``[t_onset, t_end]`` overlaps the window of a cramp without a timely hit is a *recorded* hit;
  on a cramp already counted it is a fragment; on no cramp (nor short cramp) a *false record*;
* *counted* = timely + recorded; both sensitivities are over the required cramps (≥ 10 s);
* inside a short cramp's window: *neutral*, neither hit nor false alarm;
* anywhere else a ``cramp_started`` is a *false alarm*, alarms during bad signal and prompts
  after a cramp has ended included. Each names the confounder / bad-signal span it fell on (with
  :data:`CAUSE_MARGIN_S` either side) or ``"none"``, and the family of a cramp that ended at most
  :data:`AFTERMATH_S` before it (an alarm on the cramp's residual, issue 15).

End error is ``t_end − end_s``: of the ``cramp_ended`` that belongs to a timely hit's
``cramp_started`` (same ``event_id`` stem, else same ``t_onset``), or of the ``cramp_recorded``.
All times are seconds of stream time since the night's first sample.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

TRUTH_FORMAT = "crampwatch-truth/1"
# contracts.md scoring rule: a truth without lead_s (hand labels) lets a start come 0.5 s early
EARLY_MARGIN_S = 0.5
LATE_MARGIN_S = 2.0  # issue 15: the window runs to 2 s after the cramp's end
# A false alarm is attributed to a span if the alarm's [t_onset, t_detect] comes within this many
# seconds of it: a detector confirms a burst a few seconds after it starts (hold time), and may
# confirm just after a short burst (a PLM lasts 0.5–10 s, physiology.md §2) has ended.
CAUSE_MARGIN_S = 5.0
# A false alarm this soon after a cramp's window is counted against that cramp's family: the
# prompt for a cramp that was over (issue 15 "Cramps the sleeper moves through").
AFTERMATH_S = 120.0
# The truth lists a PLM series and each leg movement in it; an alarm on a movement of a series is
# reported as the series, the event the AASM/WASM rules score (physiology.md §2 [PLMt, WASM16]).
CAUSE_PRIORITY = {"plm_series": 0}
NIGHT_S = 8 * 3600.0  # false alarms are reported per 8-h night
NONE_CAUSE = "none"
UNNAMED_FAMILY = "unnamed"  # a truth cramp without a family (hand labels, older files)
UNNAMED_PROFILE = "unnamed"
# issue 15 decision 4: false alarms per 8 h on typical and quiet nights, and on the dense,
# confounder-heavy profile; the family-mix profile has typical confounders.
FALSE_ALARM_TARGET_PER_8H = {"dense": 0.3}
DEFAULT_FALSE_ALARM_TARGET_PER_8H = 0.05


# --------------------------------------------------------------------------------------------
# result types


@dataclass(frozen=True, slots=True, kw_only=True)
class Span:
    """One labelled interval of the truth: a confounder, a bad-signal span or a cramp (s)."""

    kind: str
    start_s: float
    end_s: float

    def distance_s(self, t0: float, t1: float) -> float:
        """Gap in seconds between this span and ``[t0, t1]``; 0 if they overlap."""
        return max(0.0, self.start_s - t1, t0 - self.end_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class Cramp:
    """A truth cramp (s): ``lead_s`` ≤ ``onset_s`` (full onset) < ``end_s``; its ``family``."""

    index: int
    family: str
    lead_s: float
    onset_s: float
    end_s: float

    @property
    def window(self) -> tuple[float, float]:
        """``[lead_s, end_s + 2]``: where an alarm is timely (contracts.md)."""
        return self.lead_s, self.end_s + LATE_MARGIN_S

    def holds(self, t: float) -> bool:
        a, b = self.window
        return a <= t <= b

    def overlaps(self, t0: float, t1: float) -> bool:
        a, b = self.window
        return t0 <= b and t1 >= a


@dataclass(frozen=True, slots=True, kw_only=True)
class Hit:
    """A required cramp alarmed in time: ``cramp_index`` into ``truth["cramps"]``; times in s.

    ``latency_s`` = ``t_detect − onset_s`` (negative: during the build-up).
    """

    cramp_index: int
    family: str
    onset_s: float
    end_s: float
    t_detect: float
    latency_s: float
    t_end: float | None  # None: no cramp_ended event belongs to the hit's start
    end_error_s: float | None  # t_end − end_s


@dataclass(frozen=True, slots=True, kw_only=True)
class Recorded:
    """A required cramp recognised only after it ended (a ``cramp_recorded``); times in s."""

    cramp_index: int
    family: str
    onset_s: float
    end_s: float
    t_onset: float
    t_end: float
    end_error_s: float  # t_end − end_s


@dataclass(frozen=True, slots=True, kw_only=True)
class FalseAlarm:
    """A ``cramp_started`` outside every cramp window; ``spans`` nearest first (s).

    ``after_family``: family of a cramp whose window closed at most :data:`AFTERMATH_S` before.
    """

    t_detect: float
    t_onset: float | None
    spans: tuple[Span, ...]
    after_family: str | None = None

    @property
    def cause(self) -> str:
        """Kind of the nearest span the alarm fell on, or ``"none"``."""
        return self.spans[0].kind if self.spans else NONE_CAUSE


@dataclass(frozen=True, slots=True, kw_only=True)
class FalseRecord:
    """A ``cramp_recorded`` that overlaps no cramp's window (s)."""

    t_onset: float
    t_end: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Metrics:
    """Summary numbers of one night, several (pooled) or one family. ``None`` where undefined.

    ``hits`` are timely, ``recorded`` counted after the fact; ``sensitivity`` = hits / cramps,
    ``counted_sensitivity`` = (hits + recorded) / cramps. Latency over timely hits; end error
    over every counted cramp with an end. A family's ``false_alarms`` are those after its
    cramps (``after_cramp_false_alarms``), with no rate (``duration_s`` 0).
    """

    nights: int
    duration_s: float
    cramps: int
    short_cramps: int
    hits: int
    recorded: int
    fragments: int
    neutral: int
    false_alarms: int
    false_records: int
    ended_without_hit: int  # cramp_ended events that belong to no hit
    hits_without_end: int
    ignored_events: int  # events of other kinds (cramp_update, unknown)
    sensitivity: float | None
    counted_sensitivity: float | None
    false_alarms_per_8h: float | None
    latency_median_s: float | None
    latency_p90_s: float | None
    end_error_median_abs_s: float | None  # median |t_end − end_s|
    end_error_p90_abs_s: float | None
    after_cramp_false_alarms: int = 0
    false_alarms_by_cause: dict[str, int] = field(default_factory=dict)

    @property
    def counted(self) -> int:
        return self.hits + self.recorded

    @property
    def missed(self) -> int:
        return self.cramps - self.counted


@dataclass(frozen=True, slots=True, kw_only=True)
class NightScore:
    """Everything the scorer found in one night; ``hits`` are the timely ones."""

    name: str
    duration_s: float
    hits: tuple[Hit, ...]
    missed: tuple[Cramp, ...]  # required cramps neither timely nor recorded
    false_alarms: tuple[FalseAlarm, ...]
    metrics: Metrics
    recorded: tuple[Recorded, ...] = ()
    false_records: tuple[FalseRecord, ...] = ()
    profile: str = UNNAMED_PROFILE

    @property
    def outcomes(self) -> tuple[Hit | Recorded | Cramp, ...]:
        """Every required cramp once: its hit, its record, or the cramp itself if missed."""
        return (*self.hits, *self.recorded, *self.missed)


@dataclass(frozen=True, slots=True, kw_only=True)
class CorpusScore:
    """Several nights and their pooled metrics (counts summed, latencies pooled)."""

    nights: tuple[NightScore, ...]
    metrics: Metrics


# --------------------------------------------------------------------------------------------
# input parsing (ValueError with the place named; the CLI turns it into InputError)


def _number(obj: Mapping[str, Any], key: str, where: str) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}: {key!r} must be a finite number, got {value!r}")
    return float(value)


def _items(truth: Mapping[str, Any], key: str) -> list[tuple[str, Mapping[str, Any]]]:
    items = truth.get(key, [])
    if not isinstance(items, list):
        raise ValueError(f"truth: {key!r} must be a list, got {type(items).__name__}")
    out = []
    for i, item in enumerate(items):
        where = f"truth: {key}[{i}]"
        if not isinstance(item, Mapping):
            raise ValueError(f"{where}: must be an object")
        out.append((where, item))
    return out


def _spans(truth: Mapping[str, Any], key: str) -> list[Span]:
    spans = []
    for where, item in _items(truth, key):
        s, e = _number(item, "start_s", where), _number(item, "end_s", where)
        if e < s:
            raise ValueError(f"{where}: end_s={e} before start_s={s}")
        label = item.get("kind")
        if not isinstance(label, str) or not label:
            raise ValueError(f"{where}: 'kind' must be a non-empty string")
        spans.append(Span(kind=label, start_s=s, end_s=e))
    return spans


def _cramps(truth: Mapping[str, Any], key: str) -> list[Cramp]:
    cramps = []
    for i, (where, item) in enumerate(_items(truth, key)):
        onset, end = _number(item, "onset_s", where), _number(item, "end_s", where)
        if end < onset:
            raise ValueError(f"{where}: end_s={end} before onset_s={onset}")
        lead = onset - EARLY_MARGIN_S
        if item.get("lead_s") is not None:
            lead = _number(item, "lead_s", where)
            if lead > onset:
                raise ValueError(f"{where}: lead_s={lead} after onset_s={onset}")
        family = item.get("family", UNNAMED_FAMILY)
        if not isinstance(family, str) or not family:
            raise ValueError(f"{where}: 'family' must be a non-empty string")
        cramps.append(Cramp(index=i, family=family, lead_s=lead, onset_s=onset, end_s=end))
    return cramps


@dataclass(frozen=True, slots=True)
class TruthSpans:
    """A checked truth: night length (s), profile and the labelled spans the scorer uses."""

    duration_s: float
    cramps: list[Cramp]
    short_cramps: list[Cramp]
    context: list[Span]  # confounders + bad signal: what a false alarm may have fallen on
    profile: str = UNNAMED_PROFILE


def parse_truth(truth: Mapping[str, Any]) -> TruthSpans:
    """Check a truth mapping (contracts.md "Truth JSON"); raises ValueError naming the field."""
    if not isinstance(truth, Mapping):
        raise ValueError("truth: must be a JSON object")
    fmt = truth.get("format")
    if fmt != TRUTH_FORMAT:
        raise ValueError(f"truth: 'format' must be {TRUTH_FORMAT!r}, got {fmt!r}")
    duration = _number(truth, "duration_s", "truth")
    if duration <= 0:
        raise ValueError(f"truth: 'duration_s' must be > 0, got {duration}")
    profile = truth.get("profile")
    return TruthSpans(
        duration,
        _cramps(truth, "cramps"),
        _cramps(truth, "short_cramps"),
        _spans(truth, "confounders") + _spans(truth, "bad_signal"),
        profile if isinstance(profile, str) and profile else UNNAMED_PROFILE,
    )


@dataclass(frozen=True, slots=True)
class _Event:
    """A parsed cramp_started (``t`` = t_detect), cramp_ended (``t`` = t_end) or cramp_recorded
    (``t`` = t_end); ``key`` is the ``event_id`` stem ("<session>:<leg>:<n>") or None."""

    t: float
    t_onset: float | None
    key: str | None


def _stem(event: Mapping[str, Any], suffix: str) -> str | None:
    event_id = event.get("event_id")
    if isinstance(event_id, str) and event_id.endswith(suffix):
        return event_id[: -len(suffix)]
    return None


def _optional_number(event: Mapping[str, Any], key: str, where: str) -> float | None:
    return None if event.get(key) is None else _number(event, key, where)


# event kind → (its time field, whether t_onset is required)
_SCORED = {
    "cramp_started": ("t_detect", False),
    "cramp_ended": ("t_end", False),
    "cramp_recorded": ("t_end", True),
}


def _parse_events(events: Sequence[Mapping[str, Any]]) -> tuple[dict[str, list[_Event]], int]:
    found: dict[str, list[_Event]] = {kind: [] for kind in _SCORED}
    ignored = 0
    for i, event in enumerate(events):
        where = f"event #{i + 1}"
        if not isinstance(event, Mapping):
            raise ValueError(f"{where}: must be a JSON object")
        kind = event.get("event")
        if not isinstance(kind, str):
            raise ValueError(f"{where}: 'event' must be a string, got {kind!r}")
        if kind not in _SCORED:
            ignored += 1  # cramp_update and anything newer: not scored
            continue
        time_key, onset_required = _SCORED[kind]
        t = _number(event, time_key, where)
        onset = (_number if onset_required else _optional_number)(event, "t_onset", where)
        if onset is not None and kind == "cramp_recorded" and t < onset:
            raise ValueError(f"{where}: t_end={t} before t_onset={onset}")
        found[kind].append(_Event(t, onset, _stem(event, ":" + kind.removeprefix("cramp_"))))
    return found, ignored


# --------------------------------------------------------------------------------------------
# scoring


def _matching_end(start: _Event, ends: list[_Event], used: set[int]) -> int | None:
    """Index of the cramp_ended that belongs to ``start``: same id stem, else same onset."""
    for j, end in enumerate(ends):
        if j not in used and start.key is not None and end.key == start.key:
            return j
    if start.t_onset is not None:
        for j, end in enumerate(ends):
            if (
                j not in used
                and end.t_onset is not None
                and abs(end.t_onset - start.t_onset) <= 1e-6
                and end.t >= start.t - 1e-6
            ):
                return j
    return None


def _median(values: Sequence[float]) -> float | None:
    return float(np.median(values)) if values else None


def _p90(values: Sequence[float]) -> float | None:
    # numpy's default "linear" percentile (Hyndman & Fan type 7), as in most spreadsheets
    return float(np.percentile(values, 90.0)) if values else None


@dataclass(frozen=True, slots=True)
class _Counts:
    """What :func:`_metrics` adds up besides the hits and alarms."""

    nights: int
    duration_s: float
    cramps: int
    short_cramps: int
    fragments: int
    neutral: int
    ended_without_hit: int
    ignored_events: int


def _metrics(
    c: _Counts,
    hits: Sequence[Hit],
    recorded: Sequence[Recorded],
    false_alarms: Sequence[FalseAlarm],
    false_records: int,
) -> Metrics:
    latencies = [h.latency_s for h in hits]
    end_errors = [abs(h.end_error_s) for h in hits if h.end_error_s is not None]
    end_errors += [abs(r.end_error_s) for r in recorded]
    by_cause = Counter(fa.cause for fa in false_alarms)
    return Metrics(
        nights=c.nights,
        duration_s=c.duration_s,
        cramps=c.cramps,
        short_cramps=c.short_cramps,
        hits=len(hits),
        recorded=len(recorded),
        fragments=c.fragments,
        neutral=c.neutral,
        false_alarms=len(false_alarms),
        false_records=false_records,
        ended_without_hit=c.ended_without_hit,
        hits_without_end=sum(1 for h in hits if h.t_end is None),
        ignored_events=c.ignored_events,
        sensitivity=len(hits) / c.cramps if c.cramps else None,
        counted_sensitivity=(len(hits) + len(recorded)) / c.cramps if c.cramps else None,
        false_alarms_per_8h=len(false_alarms) * NIGHT_S / c.duration_s
        if c.duration_s > 0
        else None,
        latency_median_s=_median(latencies),
        latency_p90_s=_p90(latencies),
        end_error_median_abs_s=_median(end_errors),
        end_error_p90_abs_s=_p90(end_errors),
        after_cramp_false_alarms=sum(1 for fa in false_alarms if fa.after_family is not None),
        false_alarms_by_cause=dict(sorted(by_cause.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def _hit(cramp: Cramp, t_detect: float, t_end: float | None) -> Hit:
    return Hit(
        cramp_index=cramp.index,
        family=cramp.family,
        onset_s=cramp.onset_s,
        end_s=cramp.end_s,
        t_detect=t_detect,
        latency_s=t_detect - cramp.onset_s,
        t_end=t_end,
        end_error_s=None if t_end is None else t_end - cramp.end_s,
    )


def _recorded(cramp: Cramp, t_onset: float, t_end: float) -> Recorded:
    return Recorded(
        cramp_index=cramp.index,
        family=cramp.family,
        onset_s=cramp.onset_s,
        end_s=cramp.end_s,
        t_onset=t_onset,
        t_end=t_end,
        end_error_s=t_end - cramp.end_s,
    )


def _false_alarm(start: _Event, night: TruthSpans) -> FalseAlarm:
    t0 = start.t if start.t_onset is None else min(start.t_onset, start.t)
    candidates = (
        night.context
        + [Span(kind="cramp", start_s=c.onset_s, end_s=c.end_s) for c in night.cramps]
        + [Span(kind="short_cramp", start_s=c.onset_s, end_s=c.end_s) for c in night.short_cramps]
    )
    near = [s for s in candidates if s.distance_s(t0, start.t) <= CAUSE_MARGIN_S]
    # nearest to the moment of the alarm first; among equals a PLM series before its own leg
    # movements, then the later-starting span
    near.sort(
        key=lambda s: (s.distance_s(start.t, start.t), CAUSE_PRIORITY.get(s.kind, 1), -s.start_s)
    )
    before = [c for c in night.cramps if 0.0 < start.t - c.window[1] <= AFTERMATH_S]
    after = max(before, key=lambda c: c.end_s).family if before else None
    return FalseAlarm(
        t_detect=start.t, t_onset=start.t_onset, spans=tuple(near), after_family=after
    )


def score_night(
    truth: Mapping[str, Any], events: Sequence[Mapping[str, Any]], *, name: str = ""
) -> NightScore:
    """Score one night.

    ``truth``: the parsed ``NIGHT.truth.json``; ``events``: the parsed event JSON objects in any
    order (``cramp_started``, ``cramp_ended`` and ``cramp_recorded`` are scored, other kinds are
    counted and ignored). Raises ValueError naming the bad field (``"truth: cramps[3]: ..."``,
    ``"event #7: ..."``).
    """
    night = parse_truth(truth)
    found, ignored = _parse_events(events)
    starts = sorted(found["cramp_started"], key=lambda e: e.t)
    ends = found["cramp_ended"]
    counted: dict[int, Hit | Recorded] = {}
    used_ends: set[int] = set()
    fragments = neutral = 0
    false_alarms: list[FalseAlarm] = []
    for start in starts:
        windows = [c for c in night.cramps if c.holds(start.t)]
        if windows:
            free = [c for c in windows if c.index not in counted]
            if not free:
                fragments += 1
                continue
            j = _matching_end(start, ends, used_ends)
            if j is not None:
                used_ends.add(j)
            cramp = free[0]  # earliest onset first: cramps are listed in time order
            counted[cramp.index] = _hit(cramp, start.t, None if j is None else ends[j].t)
        elif any(c.holds(start.t) for c in night.short_cramps):
            neutral += 1
        else:
            false_alarms.append(_false_alarm(start, night))
    false_records: list[FalseRecord] = []
    for rec in sorted(found["cramp_recorded"], key=lambda e: (e.t_onset or 0.0, e.t)):
        t_onset = rec.t_onset if rec.t_onset is not None else rec.t
        windows = [c for c in night.cramps if c.overlaps(t_onset, rec.t)]
        free = [c for c in windows if c.index not in counted]
        if free:
            counted[free[0].index] = _recorded(free[0], t_onset, rec.t)
        elif windows:
            fragments += 1
        elif any(c.overlaps(t_onset, rec.t) for c in night.short_cramps):
            neutral += 1
        else:
            false_records.append(FalseRecord(t_onset=t_onset, t_end=rec.t))
    ordered = [counted[i] for i in sorted(counted)]
    hits = tuple(h for h in ordered if isinstance(h, Hit))
    recorded = tuple(r for r in ordered if isinstance(r, Recorded))
    counts = _Counts(
        1,
        night.duration_s,
        len(night.cramps),
        len(night.short_cramps),
        fragments,
        neutral,
        len(ends) - len(used_ends),
        ignored,
    )
    return NightScore(
        name=name,
        duration_s=night.duration_s,
        hits=hits,
        missed=tuple(c for c in night.cramps if c.index not in counted),
        false_alarms=tuple(false_alarms),
        metrics=_metrics(counts, hits, recorded, false_alarms, len(false_records)),
        recorded=recorded,
        false_records=tuple(false_records),
        profile=night.profile,
    )


def aggregate(scores: Iterable[NightScore]) -> CorpusScore:
    """Pool nights: counts and durations summed, latencies and end errors pooled over all hits.

    Sensitivity is total hits / total cramps and false alarms per 8 h is total false alarms over
    total hours (not a mean of per-night ratios), so long nights weigh by their length.
    """
    nights = tuple(scores)
    m = [n.metrics for n in nights]
    counts = _Counts(
        len(nights),
        sum(x.duration_s for x in m),
        sum(x.cramps for x in m),
        sum(x.short_cramps for x in m),
        sum(x.fragments for x in m),
        sum(x.neutral for x in m),
        sum(x.ended_without_hit for x in m),
        sum(x.ignored_events for x in m),
    )
    metrics = _metrics(
        counts,
        [h for n in nights for h in n.hits],
        [h for n in nights for h in n.recorded],
        [fa for n in nights for fa in n.false_alarms],
        sum(x.false_records for x in m),
    )
    return CorpusScore(nights=nights, metrics=metrics)


def by_profile(scores: Iterable[NightScore]) -> dict[str, Metrics]:
    """Pooled metrics of the nights of each simulator profile, profiles in first-seen order."""
    groups: dict[str, list[NightScore]] = defaultdict(list)
    for s in scores:
        groups[s.profile].append(s)
    return {profile: aggregate(nights).metrics for profile, nights in groups.items()}


def by_family(scores: Iterable[NightScore]) -> dict[str, Metrics]:
    """Metrics of the required cramps of each family, pooled over ``scores``.

    Sensitivities, latency and end error as for a night; ``false_alarms`` are the alarms after
    a cramp of that family (:data:`AFTERMATH_S`); no rate, as a family has no hours of its own.
    """
    hits: dict[str, list[Hit]] = defaultdict(list)
    recorded: dict[str, list[Recorded]] = defaultdict(list)
    cramps: Counter[str] = Counter()
    after: dict[str, list[FalseAlarm]] = defaultdict(list)
    nights = 0
    for s in scores:
        nights += 1
        for item in s.outcomes:
            cramps[item.family] += 1
            if isinstance(item, Hit):
                hits[item.family].append(item)
            elif isinstance(item, Recorded):
                recorded[item.family].append(item)
        for fa in s.false_alarms:
            if fa.after_family is not None:
                after[fa.after_family].append(fa)
    out = {}
    for family in sorted(cramps):
        counts = _Counts(nights, 0.0, cramps[family], 0, 0, 0, 0, 0)
        out[family] = _metrics(counts, hits[family], recorded[family], after[family], 0)
    return out


def false_alarm_target_per_8h(profile: str) -> float:
    """Issue 15's false-alarm target for a profile (per 8 h)."""
    return FALSE_ALARM_TARGET_PER_8H.get(profile, DEFAULT_FALSE_ALARM_TARGET_PER_8H)


# --------------------------------------------------------------------------------------------
# output


def metrics_dict(m: Metrics) -> dict[str, Any]:
    """JSON-ready metrics (``None`` → ``null``)."""
    return {
        "nights": m.nights,
        "duration_s": m.duration_s,
        "cramps": m.cramps,
        "short_cramps": m.short_cramps,
        "hits": m.hits,
        "recorded": m.recorded,
        "counted": m.counted,
        "missed": m.missed,
        "fragments": m.fragments,
        "neutral": m.neutral,
        "false_alarms": m.false_alarms,
        "false_records": m.false_records,
        "after_cramp_false_alarms": m.after_cramp_false_alarms,
        "ended_without_hit": m.ended_without_hit,
        "hits_without_end": m.hits_without_end,
        "ignored_events": m.ignored_events,
        "sensitivity": m.sensitivity,
        "counted_sensitivity": m.counted_sensitivity,
        "false_alarms_per_8h": m.false_alarms_per_8h,
        "latency_median_s": m.latency_median_s,
        "latency_p90_s": m.latency_p90_s,
        "end_error_median_abs_s": m.end_error_median_abs_s,
        "end_error_p90_abs_s": m.end_error_p90_abs_s,
        "false_alarms_by_cause": dict(m.false_alarms_by_cause),
    }


def _hit_dict(h: Hit | Recorded) -> dict[str, Any]:
    when = (
        {"t_detect": h.t_detect, "latency_s": h.latency_s}
        if isinstance(h, Hit)
        else {"t_onset": h.t_onset}
    )
    return {
        "cramp_index": h.cramp_index,
        "family": h.family,
        "onset_s": h.onset_s,
        "end_s": h.end_s,
        **when,
        "t_end": h.t_end,
        "end_error_s": h.end_error_s,
    }


def to_dict(score: CorpusScore) -> dict[str, Any]:
    """The ``--json`` document: aggregate metrics plus, per night, metrics and every event."""
    return {
        "aggregate": metrics_dict(score.metrics),
        "by_family": {k: metrics_dict(v) for k, v in by_family(score.nights).items()},
        "nights": [
            {
                "name": n.name,
                "profile": n.profile,
                "metrics": metrics_dict(n.metrics),
                "hits": [_hit_dict(h) for h in n.hits],
                "recorded": [_hit_dict(h) for h in n.recorded],
                "missed": [
                    {"family": c.family, "lead_s": c.lead_s, "onset_s": c.onset_s, "end_s": c.end_s}
                    for c in n.missed
                ],
                "false_alarms": [
                    {
                        "t_detect": fa.t_detect,
                        "t_onset": fa.t_onset,
                        "cause": fa.cause,
                        "after_family": fa.after_family,
                        "spans": [
                            {"kind": s.kind, "start_s": s.start_s, "end_s": s.end_s}
                            for s in fa.spans
                        ],
                    }
                    for fa in n.false_alarms
                ],
                "false_records": [
                    {"t_onset": r.t_onset, "t_end": r.t_end} for r in n.false_records
                ],
            }
            for n in score.nights
        ],
    }


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100.0 * value:.1f}%"


def _timing_cells(m: Metrics) -> str:
    """Latency median / p90 and |end error| median / p90 (s), 7 characters each."""
    values = (m.latency_median_s, m.latency_p90_s, m.end_error_median_abs_s, m.end_error_p90_abs_s)
    return " ".join(f"{_fmt(v, '.1f'):>7}" for v in values)


TABLE_HEADER = (
    f"{'night':<24} {'hours':>6} {'cramps':>6} {'hits':>5} {'sens':>6} {'rec':>4} "
    f"{'counted':>7} {'FA':>4} {'FA/8h':>6} {'lat med':>7} {'lat p90':>7} {'end med':>7} "
    f"{'end p90':>7} {'frag':>4} {'neutral':>7} {'falseRec':>8}"
)


def format_row(name: str, m: Metrics) -> str:
    """One table row (:data:`TABLE_HEADER` columns) for ``m``, named ``name``."""
    return (
        f"{name[:24]:<24} {m.duration_s / 3600:>6.2f} {m.cramps:>6} {m.hits:>5} "
        f"{_pct(m.sensitivity):>6} {m.recorded:>4} {_pct(m.counted_sensitivity):>7} "
        f"{m.false_alarms:>4} {_fmt(m.false_alarms_per_8h, '.2f'):>6} {_timing_cells(m)} "
        f"{m.fragments:>4} {m.neutral:>7} {m.false_records:>8}"
    )


FAMILY_HEADER = (
    f"{'family':<24} {'cramps':>6} {'timely':>6} {'sens':>6} {'rec':>4} {'counted':>7} "
    f"{'missed':>6} {'lat med':>7} {'lat p90':>7} {'end med':>7} {'end p90':>7} {'FA after':>8}"
)


def format_family_row(name: str, m: Metrics) -> str:
    """One :data:`FAMILY_HEADER` row: a family's cramps and the false alarms after them."""
    return (
        f"{name[:24]:<24} {m.cramps:>6} {m.hits:>6} {_pct(m.sensitivity):>6} {m.recorded:>4} "
        f"{_pct(m.counted_sensitivity):>7} {m.missed:>6} {_timing_cells(m)} {m.false_alarms:>8}"
    )


def format_family_table(scores: Sequence[NightScore]) -> str:
    """Per-family table over ``scores`` (pooled), then the row of every cramp together."""
    lines = [FAMILY_HEADER, "-" * len(FAMILY_HEADER)]
    lines += [format_family_row(f, m) for f, m in by_family(scores).items()]
    every = aggregate(scores).metrics
    lines += ["-" * len(FAMILY_HEADER), format_family_row("all families", every)]
    return "\n".join(lines)


PROFILE_HEADER = TABLE_HEADER.replace(f"{'night':<24}", f"{'profile (FA target/8h)':<24}")


def format_profile_table(scores: Sequence[NightScore]) -> str:
    """Per-profile table (:data:`TABLE_HEADER` columns), each named with its FA target."""
    lines = [PROFILE_HEADER, "-" * len(PROFILE_HEADER)]
    for profile, m in by_profile(scores).items():
        lines.append(format_row(f"{profile} (≤ {false_alarm_target_per_8h(profile):g})", m))
    return "\n".join(lines)


def format_table(score: CorpusScore) -> str:
    """Human-readable table: one row per night, a total row, false alarms by cause.

    hits = timely alarms; sens = hits / cramps; rec = cramps only recorded after they ended;
    counted = (hits + rec) / cramps; latencies and end errors (|t_end − end_s|) in seconds;
    FA/8h = false alarms per 8 h; falseRec = records on no cramp.
    """
    lines = [TABLE_HEADER, "-" * len(TABLE_HEADER)]
    lines += [format_row(n.name or f"night {i + 1}", n.metrics) for i, n in enumerate(score.nights)]
    if len(score.nights) != 1:
        total = format_row(f"all ({score.metrics.nights})", score.metrics)
        lines += ["-" * len(TABLE_HEADER), total]
    causes = score.metrics.false_alarms_by_cause
    if causes:
        lines.append("false alarms by cause: " + ", ".join(f"{k} {v}" for k, v in causes.items()))
    return "\n".join(lines)


def describe(score: NightScore) -> str:
    """The night's score in plain words, for someone who has never seen the table."""
    m = score.metrics
    if not m.cramps:
        lines = ["The simulator put no cramp of 10 s or more into this night."]
    else:
        lines = [f"The simulator put {m.cramps} cramp(s) of 10 s or more into this night."]
    counted: list[Hit | Recorded] = [*score.hits, *score.recorded]
    for h in sorted(counted, key=lambda h: h.onset_s):
        length = f"a {h.end_s - h.onset_s:.0f}-s cramp at {h.onset_s:.0f} s"
        if isinstance(h, Hit):
            when = "before" if h.latency_s < 0 else "after"
            lines.append(
                f"- {length}: the alarm came {abs(h.latency_s):.1f} s {when} it reached full "
                "strength (the goal is within 5 s)."
            )
        else:
            lines.append(f"- {length}: recognised only after it was over, so logged, not spoken.")
        if h.end_error_s is not None:
            when = "late" if h.end_error_s > 0 else "early"
            lines.append(
                f"  Its end was dated {abs(h.end_error_s):.1f} s {when} (the goal is within 5 s)."
            )
    for c in score.missed:
        lines.append(f"- a {c.end_s - c.onset_s:.0f}-s cramp at {c.onset_s:.0f} s was missed.")
    if m.false_alarms:
        lines.append(
            f"{m.false_alarms} alarm(s) came when there was no cramp (false alarms); the goal is "
            "fewer than one in twenty nights."
        )
    else:
        lines.append("No alarm came when there was no cramp.")
    return "\n".join(lines)
