"""Event-level scoring of a detector's output against a simulated night's truth.

Pure: mappings and lists in (the parsed truth JSON and event JSON of ``docs/contracts.md``),
frozen dataclasses out; no I/O, no clock. ``bedside.commands.score`` reads the files and the
benchmark runner calls :func:`score_night` directly. Must not import ``bedside`` or
``firmware_bridge``.

The rule (``docs/contracts.md`` "Scoring rule", issue 2 "Scoring"):

* a ``cramp_started`` whose ``t_detect`` lies in a required cramp's window
  ``[onset_s − 0.5, end_s + 2]`` (both ends included) is a *hit*; one hit per cramp, further
  starts in the same window are *fragments*;
* inside a short cramp's window (same margins): *neutral*, neither hit nor false alarm;
* anywhere else a *false alarm*, alarms during bad signal included. Each false alarm names the
  confounder / bad-signal span it fell on (with :data:`CAUSE_MARGIN_S` either side) or ``"none"``.

Latency is ``t_detect − onset_s`` of the hit; end error is ``t_end − end_s`` of the ``cramp_ended``
event that belongs to the hit's ``cramp_started`` (same ``event_id`` stem, else same ``t_onset``).
All times are seconds of stream time since the night's first sample.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

TRUTH_FORMAT = "crampwatch-truth/1"
EARLY_MARGIN_S = 0.5  # contracts.md scoring rule: a start up to 0.5 s before onset still counts
LATE_MARGIN_S = 2.0  # contracts.md scoring rule: ... and up to 2 s after the cramp's end
# A false alarm is attributed to a span if the alarm's [t_onset, t_detect] comes within this many
# seconds of it: a detector confirms a burst a few seconds after it starts (hold time), and may
# confirm just after a short burst (a PLM lasts 0.5–10 s, physiology.md §2) has ended.
CAUSE_MARGIN_S = 5.0
# The truth lists a PLM series and each leg movement in it; an alarm on a movement of a series is
# reported as the series, the event the AASM/WASM rules score (physiology.md §2 [PLMt, WASM16]).
CAUSE_PRIORITY = {"plm_series": 0}
NIGHT_S = 8 * 3600.0  # false alarms are reported per 8-h night
NONE_CAUSE = "none"


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
class Hit:
    """A required cramp found: ``cramp_index`` into ``truth["cramps"]``; times in s."""

    cramp_index: int
    onset_s: float
    end_s: float
    t_detect: float
    latency_s: float
    t_end: float | None  # None: no cramp_ended event belongs to the hit's start
    end_error_s: float | None  # t_end − end_s


@dataclass(frozen=True, slots=True, kw_only=True)
class FalseAlarm:
    """A ``cramp_started`` outside every cramp window; ``spans`` nearest first (s)."""

    t_detect: float
    t_onset: float | None
    spans: tuple[Span, ...]

    @property
    def cause(self) -> str:
        """Kind of the nearest span the alarm fell on, or ``"none"``."""
        return self.spans[0].kind if self.spans else NONE_CAUSE


@dataclass(frozen=True, slots=True, kw_only=True)
class Metrics:
    """Summary numbers of one night or of several (pooled). ``None`` where undefined."""

    nights: int
    duration_s: float
    cramps: int
    short_cramps: int
    hits: int
    fragments: int
    neutral: int
    false_alarms: int
    ended_without_hit: int  # cramp_ended events that belong to no hit
    hits_without_end: int
    ignored_events: int  # events of other kinds (cramp_update, unknown)
    sensitivity: float | None  # hits / cramps
    false_alarms_per_8h: float | None
    latency_median_s: float | None
    latency_p90_s: float | None
    end_error_median_abs_s: float | None  # median |t_end − end_s| over hits with an end
    false_alarms_by_cause: dict[str, int] = field(default_factory=dict)

    @property
    def missed(self) -> int:
        return self.cramps - self.hits


@dataclass(frozen=True, slots=True, kw_only=True)
class NightScore:
    """Everything the scorer found in one night."""

    name: str
    duration_s: float
    hits: tuple[Hit, ...]
    missed: tuple[Span, ...]  # required cramps without a hit
    false_alarms: tuple[FalseAlarm, ...]
    metrics: Metrics


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


def _spans(
    truth: Mapping[str, Any], key: str, start: str, end: str, kind: str | None
) -> list[Span]:
    items = truth.get(key, [])
    if not isinstance(items, list):
        raise ValueError(f"truth: {key!r} must be a list, got {type(items).__name__}")
    spans = []
    for i, item in enumerate(items):
        where = f"truth: {key}[{i}]"
        if not isinstance(item, Mapping):
            raise ValueError(f"{where}: must be an object")
        s, e = _number(item, start, where), _number(item, end, where)
        if e < s:
            raise ValueError(f"{where}: {end}={e} before {start}={s}")
        label = kind if kind is not None else item.get("kind")
        if not isinstance(label, str) or not label:
            raise ValueError(f"{where}: 'kind' must be a non-empty string")
        spans.append(Span(kind=label, start_s=s, end_s=e))
    return spans


@dataclass(frozen=True, slots=True)
class TruthSpans:
    """A checked truth: night length (s) and the labelled spans the scorer uses."""

    duration_s: float
    cramps: list[Span]
    short_cramps: list[Span]
    context: list[Span]  # confounders + bad signal: what a false alarm may have fallen on


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
    cramps = _spans(truth, "cramps", "onset_s", "end_s", "cramp")
    short = _spans(truth, "short_cramps", "onset_s", "end_s", "short_cramp")
    context = _spans(truth, "confounders", "start_s", "end_s", None)
    context += _spans(truth, "bad_signal", "start_s", "end_s", None)
    return TruthSpans(duration, cramps, short, context)


@dataclass(frozen=True, slots=True)
class _Start:
    t_detect: float
    t_onset: float | None
    key: str | None  # event_id stem ("<session>:<leg>:<n>") or None


@dataclass(frozen=True, slots=True)
class _End:
    t_end: float
    t_onset: float | None
    key: str | None


def _stem(event: Mapping[str, Any], suffix: str) -> str | None:
    event_id = event.get("event_id")
    if isinstance(event_id, str) and event_id.endswith(suffix):
        return event_id[: -len(suffix)]
    return None


def _optional_number(event: Mapping[str, Any], key: str, where: str) -> float | None:
    return None if event.get(key) is None else _number(event, key, where)


def _parse_events(events: Sequence[Mapping[str, Any]]) -> tuple[list[_Start], list[_End], int]:
    starts: list[_Start] = []
    ends: list[_End] = []
    ignored = 0
    for i, event in enumerate(events):
        where = f"event #{i + 1}"
        if not isinstance(event, Mapping):
            raise ValueError(f"{where}: must be a JSON object")
        kind = event.get("event")
        if kind == "cramp_started":
            starts.append(
                _Start(
                    _number(event, "t_detect", where),
                    _optional_number(event, "t_onset", where),
                    _stem(event, ":started"),
                )
            )
        elif kind == "cramp_ended":
            ends.append(
                _End(
                    _number(event, "t_end", where),
                    _optional_number(event, "t_onset", where),
                    _stem(event, ":ended"),
                )
            )
        elif isinstance(kind, str):
            ignored += 1  # cramp_update and anything newer: not scored
        else:
            raise ValueError(f"{where}: 'event' must be a string, got {kind!r}")
    return starts, ends, ignored


# --------------------------------------------------------------------------------------------
# scoring


def _in_window(t: float, span: Span) -> bool:
    return span.start_s - EARLY_MARGIN_S <= t <= span.end_s + LATE_MARGIN_S


def _matching_end(start: _Start, ends: list[_End], used: set[int]) -> int | None:
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
                and end.t_end >= start.t_detect - 1e-6
            ):
                return j
    return None


def _median(values: Sequence[float]) -> float | None:
    return float(np.median(values)) if values else None


def _p90(values: Sequence[float]) -> float | None:
    # numpy's default "linear" percentile (Hyndman & Fan type 7), as in most spreadsheets
    return float(np.percentile(values, 90.0)) if values else None


def _metrics(
    nights: int,
    duration_s: float,
    cramps: int,
    short_cramps: int,
    hits: Sequence[Hit],
    fragments: int,
    neutral: int,
    false_alarms: Sequence[FalseAlarm],
    ended_without_hit: int,
    ignored_events: int,
) -> Metrics:
    latencies = [h.latency_s for h in hits]
    end_errors = [abs(h.end_error_s) for h in hits if h.end_error_s is not None]
    by_cause = Counter(fa.cause for fa in false_alarms)
    return Metrics(
        nights=nights,
        duration_s=duration_s,
        cramps=cramps,
        short_cramps=short_cramps,
        hits=len(hits),
        fragments=fragments,
        neutral=neutral,
        false_alarms=len(false_alarms),
        ended_without_hit=ended_without_hit,
        hits_without_end=sum(1 for h in hits if h.t_end is None),
        ignored_events=ignored_events,
        sensitivity=len(hits) / cramps if cramps else None,
        false_alarms_per_8h=len(false_alarms) * NIGHT_S / duration_s if duration_s > 0 else None,
        latency_median_s=_median(latencies),
        latency_p90_s=_p90(latencies),
        end_error_median_abs_s=_median(end_errors),
        false_alarms_by_cause=dict(sorted(by_cause.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def score_night(
    truth: Mapping[str, Any], events: Sequence[Mapping[str, Any]], *, name: str = ""
) -> NightScore:
    """Score one night.

    ``truth``: the parsed ``NIGHT.truth.json``; ``events``: the parsed event JSON objects in any
    order (``cramp_started`` and ``cramp_ended`` are scored, other kinds are counted and ignored).
    Raises ValueError naming the bad field (``"truth: cramps[3]: ..."``, ``"event #7: ..."``).
    """
    night = parse_truth(truth)
    starts, ends, ignored = _parse_events(events)
    starts.sort(key=lambda s: s.t_detect)
    hit_by_cramp: dict[int, Hit] = {}
    used_ends: set[int] = set()
    fragments = neutral = 0
    false_alarms: list[FalseAlarm] = []
    candidates = night.context + night.cramps + night.short_cramps
    for start in starts:
        windows = [i for i, c in enumerate(night.cramps) if _in_window(start.t_detect, c)]
        if windows:
            free = [i for i in windows if i not in hit_by_cramp]
            if not free:
                fragments += 1
                continue
            i = free[0]  # earliest onset first: cramps are listed in time order
            cramp = night.cramps[i]
            j = _matching_end(start, ends, used_ends)
            t_end = None if j is None else ends[j].t_end
            if j is not None:
                used_ends.add(j)
            hit_by_cramp[i] = Hit(
                cramp_index=i,
                onset_s=cramp.start_s,
                end_s=cramp.end_s,
                t_detect=start.t_detect,
                latency_s=start.t_detect - cramp.start_s,
                t_end=t_end,
                end_error_s=None if t_end is None else t_end - cramp.end_s,
            )
        elif any(_in_window(start.t_detect, c) for c in night.short_cramps):
            neutral += 1
        else:
            t0 = start.t_detect if start.t_onset is None else min(start.t_onset, start.t_detect)
            near = [s for s in candidates if s.distance_s(t0, start.t_detect) <= CAUSE_MARGIN_S]
            # nearest to the moment of the alarm first; among equals a PLM series before its
            # own leg movements, then the later-starting span
            near.sort(
                key=lambda s: (
                    s.distance_s(start.t_detect, start.t_detect),
                    CAUSE_PRIORITY.get(s.kind, 1),
                    -s.start_s,
                )
            )
            false_alarms.append(
                FalseAlarm(t_detect=start.t_detect, t_onset=start.t_onset, spans=tuple(near))
            )
    hits = tuple(hit_by_cramp[i] for i in sorted(hit_by_cramp))
    missed = tuple(c for i, c in enumerate(night.cramps) if i not in hit_by_cramp)
    metrics = _metrics(
        1,
        night.duration_s,
        len(night.cramps),
        len(night.short_cramps),
        hits,
        fragments,
        neutral,
        false_alarms,
        len(ends) - len(used_ends),
        ignored,
    )
    return NightScore(
        name=name,
        duration_s=night.duration_s,
        hits=hits,
        missed=missed,
        false_alarms=tuple(false_alarms),
        metrics=metrics,
    )


def aggregate(scores: Iterable[NightScore]) -> CorpusScore:
    """Pool nights: counts and durations summed, latencies and end errors pooled over all hits.

    Sensitivity is total hits / total cramps and false alarms per 8 h is total false alarms over
    total hours (not a mean of per-night ratios), so long nights weigh by their length.
    """
    nights = tuple(scores)
    m = [n.metrics for n in nights]
    metrics = _metrics(
        len(nights),
        sum(x.duration_s for x in m),
        sum(x.cramps for x in m),
        sum(x.short_cramps for x in m),
        [h for n in nights for h in n.hits],
        sum(x.fragments for x in m),
        sum(x.neutral for x in m),
        [fa for n in nights for fa in n.false_alarms],
        sum(x.ended_without_hit for x in m),
        sum(x.ignored_events for x in m),
    )
    return CorpusScore(nights=nights, metrics=metrics)


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
        "missed": m.missed,
        "fragments": m.fragments,
        "neutral": m.neutral,
        "false_alarms": m.false_alarms,
        "ended_without_hit": m.ended_without_hit,
        "hits_without_end": m.hits_without_end,
        "ignored_events": m.ignored_events,
        "sensitivity": m.sensitivity,
        "false_alarms_per_8h": m.false_alarms_per_8h,
        "latency_median_s": m.latency_median_s,
        "latency_p90_s": m.latency_p90_s,
        "end_error_median_abs_s": m.end_error_median_abs_s,
        "false_alarms_by_cause": dict(m.false_alarms_by_cause),
    }


def to_dict(score: CorpusScore) -> dict[str, Any]:
    """The ``--json`` document: aggregate metrics plus, per night, metrics and every event."""
    return {
        "aggregate": metrics_dict(score.metrics),
        "nights": [
            {
                "name": n.name,
                "metrics": metrics_dict(n.metrics),
                "hits": [
                    {
                        "cramp_index": h.cramp_index,
                        "onset_s": h.onset_s,
                        "end_s": h.end_s,
                        "t_detect": h.t_detect,
                        "latency_s": h.latency_s,
                        "t_end": h.t_end,
                        "end_error_s": h.end_error_s,
                    }
                    for h in n.hits
                ],
                "missed": [{"onset_s": c.start_s, "end_s": c.end_s} for c in n.missed],
                "false_alarms": [
                    {
                        "t_detect": fa.t_detect,
                        "t_onset": fa.t_onset,
                        "cause": fa.cause,
                        "spans": [
                            {"kind": s.kind, "start_s": s.start_s, "end_s": s.end_s}
                            for s in fa.spans
                        ],
                    }
                    for fa in n.false_alarms
                ],
            }
            for n in score.nights
        ],
    }


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


TABLE_HEADER = (
    f"{'night':<24} {'hours':>6} {'cramps':>6} {'hits':>5} {'sens':>6} {'FA':>5} {'FA/8h':>7} "
    f"{'lat med':>8} {'lat p90':>8} {'frag':>5} {'neutral':>7} {'|end err|':>9}"
)


def format_row(name: str, m: Metrics) -> str:
    """One table row (:data:`TABLE_HEADER` columns) for ``m``, named ``name``."""
    sens = "—" if m.sensitivity is None else f"{100.0 * m.sensitivity:.1f}%"
    return (
        f"{name[:24]:<24} {m.duration_s / 3600:>6.2f} {m.cramps:>6} {m.hits:>5} "
        f"{sens:>6} {m.false_alarms:>5} "
        f"{_fmt(m.false_alarms_per_8h, '.2f'):>7} {_fmt(m.latency_median_s, '.1f'):>8} "
        f"{_fmt(m.latency_p90_s, '.1f'):>8} {m.fragments:>5} {m.neutral:>7} "
        f"{_fmt(m.end_error_median_abs_s, '.1f'):>9}"
    )


def format_table(score: CorpusScore) -> str:
    """Human-readable table: one row per night, a total row, false alarms by cause.

    Latencies and end errors in seconds; sensitivity in %; FA/8h = false alarms per 8 h.
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
