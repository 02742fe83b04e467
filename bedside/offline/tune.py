"""Sweep detector settings over labelled nights, cross-validated by night.

Every setting of the grid (the cartesian product of ``--grid PARAM=V1,V2,…`` over the base
settings, the base itself included) replays every labelled night in a pool of worker processes
(:class:`concurrent.futures.ProcessPoolExecutor`) and is scored with :mod:`bedside.offline.scoring`
against the night's truth (:func:`bedside.offline.labels.truth_for`).

**Choice rule** (:func:`choose`): the reference is the *base* settings (the current
configuration) on the same nights. Only settings whose false alarms per 8 h are no worse than
the reference's are eligible (the false-alarm side is never relaxed); among them the highest
sensitivity wins, then the lowest median latency, then the fewest false alarms, then the fewest
changed parameters, then the grid order. The base is always eligible, so "no change" is a
possible answer.

**Cross-validation** (:func:`folds`, :func:`cross_validate`): the nights are split into K folds
(round robin over the sorted night names, so the split is reproducible). For each fold the rule
chooses on the other K−1 folds and the choice is scored on the held-out fold only; the pooled
held-out scores are the honest estimate. The written configuration is the rule's choice on all
nights.

Latency is the median of ``t_detect − onset_s`` over hits on exact cramps: cramps a user placed
"around 03:10" (``"approximate": true``) count for sensitivity but not latency.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from bedside.config.builder import build
from bedside.offline.labels import LabelledNight
from bedside.offline.replay import replay_night
from bedside.offline.scoring import NIGHT_S, NightScore, score_night
from bedside.stream.night import night_name
from bedside.stream.records import EventRecord
from detector.settings import DetectorSettings
from firmware_bridge.errors import ConfigError, InputError

log = logging.getLogger(__name__)

MIN_TRUSTED_CRAMPS = 10  # issue 8: below this many labelled cramps a change is not trustworthy


# --------------------------------------------------------------------------------------------
# grid


def parse_grid(specs: Sequence[str]) -> dict[str, list[Any]]:
    """``["onset_ratio=1.5,1.8", "confirm_s=4,6"]`` → ``{name: [values]}``, each value checked
    against the field's type and range; :class:`ConfigError` names the mistake."""
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        name, eq, values = spec.partition("=")
        name = name.strip()
        if not eq or not values.strip():
            raise ConfigError(f"--grid {spec!r}: expected PARAM=V1,V2,...")
        if name in grid:
            raise ConfigError(f"--grid {name}: given twice")
        parsed = []
        for text in values.split(","):
            value = _number(text.strip(), spec)
            checked = build(DetectorSettings, {name: value}, path="--grid", section="detector")
            parsed.append(getattr(checked, name))
        grid[name] = list(dict.fromkeys(parsed))  # duplicates removed, order kept
    return grid


def _number(text: str, spec: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"--grid {spec!r}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"--grid {spec!r}: {text!r} is not finite")
    return value


def candidates(base: DetectorSettings, grid: Mapping[str, Sequence[Any]]) -> list[DetectorSettings]:
    """The base settings first, then every grid combination (duplicates of earlier ones left
    out). Combinations the settings refuse (cross-field checks) are skipped with a warning."""
    out = [base]
    names = list(grid)
    for combo in itertools.product(*(grid[n] for n in names)):
        try:
            s = dataclasses.replace(base, **dict(zip(names, combo, strict=True)))
        except ValueError as exc:
            log.warning("grid point %s skipped: %s", dict(zip(names, combo, strict=True)), exc)
            continue
        if s not in out:
            out.append(s)
    return out


def changes(settings: DetectorSettings, base: DetectorSettings) -> dict[str, Any]:
    """The fields where ``settings`` differs from ``base``."""
    return {
        f.name: getattr(settings, f.name)
        for f in dataclasses.fields(DetectorSettings)
        if getattr(settings, f.name) != getattr(base, f.name)
    }


# --------------------------------------------------------------------------------------------
# scores and the choice rule


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """Pooled figures of one setting over some nights."""

    nights: int
    cramps: int
    hits: int
    false_alarms: int
    duration_s: float
    latency_median_s: float | None

    @property
    def sensitivity(self) -> float | None:
        return self.hits / self.cramps if self.cramps else None

    @property
    def false_alarms_per_8h(self) -> float:
        return self.false_alarms * NIGHT_S / self.duration_s if self.duration_s > 0 else 0.0


def summarize(scores: Sequence[NightScore], truths: Sequence[Mapping[str, Any]]) -> Summary:
    """Pool night scores; latency over hits on exact (not ``approximate``) cramps only."""
    latencies = []
    for score, truth in zip(scores, truths, strict=True):
        cramps = truth.get("cramps", [])
        latencies += [
            h.latency_s for h in score.hits if not cramps[h.cramp_index].get("approximate")
        ]
    return Summary(
        nights=len(scores),
        cramps=sum(s.metrics.cramps for s in scores),
        hits=sum(s.metrics.hits for s in scores),
        false_alarms=sum(s.metrics.false_alarms for s in scores),
        duration_s=sum(s.duration_s for s in scores),
        latency_median_s=float(np.median(latencies)) if latencies else None,
    )


def choose(summaries: Sequence[Summary], n_changed: Sequence[int]) -> int:
    """Index of the chosen setting; ``summaries[0]`` is the reference (the base settings).

    Eligible: false alarms per 8 h ≤ the reference's (never relaxed). Then: highest
    sensitivity, lowest median latency, fewest false alarms, fewest changed parameters, grid
    order.
    """
    ref = summaries[0].false_alarms_per_8h
    eligible = [i for i, s in enumerate(summaries) if s.false_alarms_per_8h <= ref + 1e-9]

    def key(i: int) -> tuple[float, float, float, int, int]:
        s = summaries[i]
        latency = s.latency_median_s if s.latency_median_s is not None else math.inf
        return (-(s.sensitivity or 0.0), latency, s.false_alarms_per_8h, n_changed[i], i)

    return min(eligible, key=key)


def pareto_front(summaries: Sequence[Summary]) -> list[int]:
    """Settings no other setting beats on all of sensitivity (↑), false alarms/8 h (↓) and
    latency (↓) while being strictly better on one."""

    def vec(s: Summary) -> tuple[float, float, float]:
        lat = s.latency_median_s if s.latency_median_s is not None else math.inf
        return (-(s.sensitivity or 0.0), s.false_alarms_per_8h, lat)

    vs = [vec(s) for s in summaries]
    front: list[int] = []
    for i, v in enumerate(vs):
        dominated = any(
            all(a <= b for a, b in zip(w, v, strict=True)) and w != v
            for j, w in enumerate(vs)
            if j != i
        )
        if not dominated and v not in [vs[k] for k in front]:
            front.append(i)
    return front


def folds(names: Sequence[str], k: int) -> list[list[int]]:
    """Split night indices into ``k`` folds, round robin over the sorted names (reproducible;
    every night in exactly one fold). ``k`` is capped at the number of nights."""
    if k < 2:
        raise ValueError(f"k must be ≥ 2, got {k}")
    order = sorted(range(len(names)), key=lambda i: names[i])
    k = min(k, len(names))
    return [sorted(order[f::k]) for f in range(k)]


@dataclass(frozen=True, slots=True, kw_only=True)
class FoldResult:
    held_out: tuple[str, ...]
    chosen: int  # index into the candidates
    train: Summary
    test: Summary
    test_base: Summary  # the base settings on the same held-out nights


def cross_validate(
    scores: Sequence[Sequence[NightScore]],
    truths: Sequence[Mapping[str, Any]],
    names: Sequence[str],
    n_changed: Sequence[int],
    k: int,
) -> list[FoldResult]:
    """``scores[c][n]``: candidate ``c`` on night ``n``. Choose on the training folds, report on
    the held-out one."""
    out = []
    for held in folds(names, k):
        train = [n for n in range(len(names)) if n not in held]

        def pool(c: int, nights: list[int]) -> Summary:
            return summarize([scores[c][n] for n in nights], [truths[n] for n in nights])

        train_summaries = [pool(c, train) for c in range(len(scores))]
        c = choose(train_summaries, n_changed)
        out.append(
            FoldResult(
                held_out=tuple(names[n] for n in held),
                chosen=c,
                train=train_summaries[c],
                test=pool(c, held),
                test_base=pool(0, held),
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# the sweep


def _replay_job(path: str, settings: DetectorSettings, leg: str | None) -> list[EventRecord]:
    """One (setting, night) replay in a worker process; returns the event JSON objects."""
    return replay_night(Path(path), settings, leg=leg).events


def _leg(truth: Mapping[str, Any]) -> str | None:
    subject = truth.get("subject")
    leg = subject.get("leg") if isinstance(subject, dict) else None
    return leg if leg in ("left", "right") else None


@dataclass(frozen=True, slots=True, kw_only=True)
class TuneResult:
    base: DetectorSettings
    settings: list[DetectorSettings]
    nights: list[LabelledNight]
    scores: list[list[NightScore]]  # [candidate][night]
    summaries: list[Summary]  # over all nights
    chosen: int
    front: list[int]
    cv: list[FoldResult]
    warnings: list[str]
    swept: tuple[str, ...]  # the grid's parameter names


def sweep(
    nights: Sequence[LabelledNight],
    settings: Sequence[DetectorSettings],
    *,
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[list[NightScore]]:
    """Replay every night with every setting (``jobs`` processes) and score it.

    Returns ``scores[candidate][night]``. A night the scorer refuses raises InputError.
    """
    tasks = [(c, n) for c in range(len(settings)) for n in range(len(nights))]
    results: dict[tuple[int, int], list[EventRecord]] = {}
    if jobs <= 1:
        for done, (c, n) in enumerate(tasks, 1):
            night = nights[n]
            results[c, n] = _replay_job(str(night.path), settings[c], _leg(night.truth))
            if progress is not None:
                progress(done, len(tasks))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {
                pool.submit(
                    _replay_job, str(nights[n].path), settings[c], _leg(nights[n].truth)
                ): (c, n)
                for c, n in tasks
            }
            from concurrent.futures import as_completed

            for done, fut in enumerate(as_completed(futures), 1):
                results[futures[fut]] = fut.result()
                if progress is not None:
                    progress(done, len(tasks))
    scores: list[list[NightScore]] = []
    for c in range(len(settings)):
        row = []
        for n, night in enumerate(nights):
            try:
                row.append(
                    score_night(night.truth, [e.to_json() for e in results[c, n]],
                                name=night_name(night.path))
                )
            except ValueError as exc:
                raise InputError(f"{night.path}: {exc}", path=str(night.path)) from exc
        scores.append(row)
    return scores


def tune(
    nights: Sequence[LabelledNight],
    base: DetectorSettings,
    grid: Mapping[str, Sequence[Any]],
    *,
    k: int = 5,
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> TuneResult:
    """Sweep, choose (rule in the module docstring) and cross-validate (``k`` folds; none with
    fewer than 2 nights). ``warnings`` lists what makes the result hard to trust."""
    if not nights:
        raise InputError("no labelled nights to tune on")
    settings = candidates(base, grid)
    scores = sweep(nights, settings, jobs=jobs, progress=progress)
    truths = [n.truth for n in nights]
    summaries = [summarize(row, truths) for row in scores]
    n_changed = [len(changes(s, base)) for s in settings]
    chosen = choose(summaries, n_changed)
    names = [night_name(n.path) for n in nights]
    warnings = []
    n_cramps = summaries[0].cramps
    if n_cramps < MIN_TRUSTED_CRAMPS:
        warnings.append(
            f"only {n_cramps} labelled cramp(s) (fewer than {MIN_TRUSTED_CRAMPS}): too few to "
            "trust a change; label more nights"
        )
    cv: list[FoldResult] = []
    if len(nights) >= 2 and k >= 2:
        cv = cross_validate(scores, truths, names, n_changed, k)
    else:
        warnings.append("fewer than 2 nights (or --folds < 2): no cross-validation")
    return TuneResult(
        base=base,
        settings=list(settings),
        nights=list(nights),
        scores=scores,
        summaries=summaries,
        chosen=chosen,
        front=pareto_front(summaries),
        cv=cv,
        warnings=warnings,
        swept=tuple(grid),
    )


# --------------------------------------------------------------------------------------------
# output


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _describe(settings: DetectorSettings, base: DetectorSettings) -> str:
    diff = changes(settings, base)
    return ", ".join(f"{k}={v:g}" for k, v in diff.items()) or "(current settings)"


def format_result(result: TuneResult) -> str:
    """The table: one row per setting over all nights, markers for the Pareto front (``P``) and
    the choice (``*``), then the cross-validation folds and the warnings."""
    lines = [
        f"{len(result.nights)} night(s), {result.summaries[0].cramps} labelled cramp(s), "
        f"{sum(s.duration_s for s in result.scores[0]) / 3600:.1f} h",
        "",
        f"{'':2} {'#':>3} {'sens':>6} {'FA/8h':>7} {'lat med s':>9}  setting",
    ]
    for i, (s, summary) in enumerate(zip(result.settings, result.summaries, strict=True)):
        mark = ("*" if i == result.chosen else " ") + ("P" if i in result.front else " ")
        lines.append(
            f"{mark} {i:>3} {_fmt(summary.sensitivity, '.2f'):>6} "
            f"{summary.false_alarms_per_8h:>7.2f} {_fmt(summary.latency_median_s, '.1f'):>9}  "
            f"{_describe(s, result.base)}"
        )
    lines.append("* chosen (FA/8h no worse than the current one's; then sensitivity, latency, FA)")
    lines.append("P Pareto front (sensitivity, FA/8h, latency)")
    if result.cv:
        lines += ["", "cross-validation (chosen on the other nights, scored on the held-out ones):"]
        for f in result.cv:
            lines.append(
                f"  held out {', '.join(f.held_out)}: #{f.chosen} "
                f"sens {_fmt(f.test.sensitivity, '.2f')} (current "
                f"{_fmt(f.test_base.sensitivity, '.2f')}), FA/8h "
                f"{f.test.false_alarms_per_8h:.2f} (current {f.test_base.false_alarms_per_8h:.2f})"
            )
        hits = sum(f.test.hits for f in result.cv)
        cramps = sum(f.test.cramps for f in result.cv)
        fas = sum(f.test.false_alarms for f in result.cv)
        dur = sum(f.test.duration_s for f in result.cv)
        base_hits = sum(f.test_base.hits for f in result.cv)
        base_fas = sum(f.test_base.false_alarms for f in result.cv)
        lines.append(
            f"  held-out pooled: sensitivity {_fmt(hits / cramps if cramps else None, '.2f')} "
            f"(current {_fmt(base_hits / cramps if cramps else None, '.2f')}), FA/8h "
            f"{fas * NIGHT_S / dur if dur else 0.0:.2f} "
            f"(current {base_fas * NIGHT_S / dur if dur else 0.0:.2f})"
        )
    for w in result.warnings:
        lines.append(f"WARNING: {w}")
    return "\n".join(lines)


def render_toml(settings: DetectorSettings, result: TuneResult | None = None) -> str:
    """A ``[detector]`` section with every key that differs from the built-in defaults and every
    swept key (each with its doc line), loadable by ``crampwatch check-config``."""
    defaults = DetectorSettings()
    keys = set(changes(settings, defaults)) | set(result.swept if result is not None else ())
    lines = ["# written by crampwatch tune"]
    if result is not None:
        s = result.summaries[result.chosen]
        lines.append(
            f"# on {s.nights} night(s), {s.cramps} cramp(s): sensitivity "
            f"{_fmt(s.sensitivity, '.2f')}, false alarms/8 h {s.false_alarms_per_8h:.2f}, "
            f"median latency {_fmt(s.latency_median_s, '.1f')} s"
        )
        lines += [f"# WARNING: {w}" for w in result.warnings]
    lines.append("[detector]")
    docs = {f.name: str(f.metadata.get("doc", "")) for f in dataclasses.fields(DetectorSettings)}
    for name in docs:
        if name in keys:
            lines.append(f"# {docs[name]}")
            lines.append(f"{name} = {getattr(settings, name)!r}")
    return "\n".join(lines) + "\n"


class ProgressBar:
    """``done/total`` as a bar on ``stream``, only when it is a terminal."""

    def __init__(self, stream: IO[str] = sys.stderr) -> None:
        self._stream = stream
        self._on = stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self._on:
            return
        width = 30
        fill = round(width * done / total) if total else width
        self._stream.write(f"\rtune [{'#' * fill:<{width}}] {done}/{total}")
        if done >= total:
            self._stream.write("\r\033[K")
        self._stream.flush()
