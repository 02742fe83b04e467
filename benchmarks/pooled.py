"""Every benchmark night set at once, pooled, per profile and per cramp family (issue 15).

::

    python -m benchmarks.pooled [-j N] [--quick] [--set KEY=VALUE ...] [--config FILE] [--json OUT]

Runs the production pipeline over the night sets of ``benchmarks.corpus.NIGHT_SETS`` from the EDF
cache (generated on first use, ``-j`` processes): the two sets to tune on, the corpus (84 h) and
the corpus families (144 h of the "families" profile, seeds 801+), and four held-out sets: A
(seeds 200+, 60 h), B (seeds 500+, 60 h), the family mix (seeds 700+, 48 h of the "families"
profile) and C (seeds 1001+, 60 h). ``--quick`` runs the 5-h quick set instead.

Prints, scored by ``bedside.offline.scoring``:

1. one row per set and the pooled row, then the pooled false alarms by cause;
2. per profile, pooled over the sets, with each profile's false-alarm target;
3. per cramp family, pooled over every set, then over the held-out sets only;
4. the issue-15 targets, each met or missed and by how much.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from bedside.offline.scoring import (
    TABLE_HEADER,
    Metrics,
    NightScore,
    aggregate,
    by_profile,
    false_alarm_target_per_8h,
    format_family_table,
    format_profile_table,
    format_row,
    to_dict,
)
from benchmarks.corpus import DEFAULT_CACHE, NIGHT_SETS, QUICK, NightSpec
from benchmarks.run import detector_settings, run_corpus
from detector.settings import DetectorSettings
from firmware_bridge.errors import ConfigError, InputError

TUNING_SET = "corpus"


def pooled_table(sets: Sequence[tuple[str, Sequence[NightScore]]]) -> str:
    """One scorer row per named set, then the pooled row and its false alarms by cause."""
    lines = [TABLE_HEADER, "-" * len(TABLE_HEADER)]
    lines += [format_row(name, aggregate(scores).metrics) for name, scores in sets]
    pooled = aggregate(score for _, scores in sets for score in scores).metrics
    lines += ["-" * len(TABLE_HEADER), format_row(f"pooled ({pooled.nights} nights)", pooled)]
    if pooled.false_alarms_by_cause:
        causes = ", ".join(f"{k} {v}" for k, v in pooled.false_alarms_by_cause.items())
        lines.append("false alarms by cause: " + causes)
    return "\n".join(lines)


# issue 15 "Decisions on the targets": (label, metric, bound, at most?)
TARGETS: tuple[tuple[str, Callable[[Metrics], float | None], float, bool], ...] = (
    ("timely sensitivity", lambda m: m.sensitivity, 0.97, False),
    ("counted sensitivity", lambda m: m.counted_sensitivity, 0.99, False),
    ("latency median s", lambda m: m.latency_median_s, 5.0, True),
    ("latency p90 s", lambda m: m.latency_p90_s, 10.0, True),
    ("end error median s", lambda m: m.end_error_median_abs_s, 5.0, True),
    ("end error p90 s", lambda m: m.end_error_p90_abs_s, 20.0, True),
)


def _verdict(value: float | None, bound: float, at_most: bool) -> str:
    if value is None:
        return "—"
    ok = value <= bound if at_most else value >= bound
    return "met" if ok else f"missed by {abs(value - bound):.3g}"


def targets_table(scores: Sequence[NightScore]) -> str:
    """The issue-15 targets on ``scores`` pooled (false alarms per profile): value and verdict."""
    pooled = aggregate(scores).metrics
    lines = [f"{'target':<36} {'value':>8}  verdict"]
    for label, get, bound, at_most in TARGETS:
        value = get(pooled)
        shown = "—" if value is None else f"{value:.3f}"
        sign = "≤" if at_most else "≥"
        verdict = _verdict(value, bound, at_most)
        lines.append(f"{f'{label} {sign} {bound:g}':<36} {shown:>8}  {verdict}")
    for profile, m in by_profile(scores).items():
        bound = false_alarm_target_per_8h(profile)
        value = m.false_alarms_per_8h
        shown = "—" if value is None else f"{value:.3f}"
        lines.append(
            f"{f'false alarms/8h, {profile} ≤ {bound:g}':<36} {shown:>8}  "
            f"{_verdict(value, bound, True)}"
        )
    return "\n".join(lines)


def report(sets: Sequence[tuple[str, Sequence[NightScore]]]) -> str:
    """Everything :func:`main` prints, from the named scored sets; a name that starts with
    :data:`TUNING_SET` is the set tuned on, the others are held out."""
    every = [score for _, scores in sets for score in scores]
    held_out = [s for name, scores in sets if not name.startswith(TUNING_SET) for s in scores]
    parts = [
        "By set (hits = timely alarms; rec = recorded after the cramp; counted = hits + rec):",
        pooled_table(sets),
        "",
        "By profile, pooled over the sets:",
        format_profile_table(every),
        "",
        "By cramp family, pooled over every set (FA after = false alarms within 120 s after "
        "a cramp of that family):",
        format_family_table(every),
    ]
    if held_out and len(held_out) != len(every):
        parts += ["", "By cramp family, held-out sets only:", format_family_table(held_out)]
    parts += ["", "Issue-15 targets, pooled over every set:", targets_table(every)]
    return "\n".join(parts)


def score_sets(
    chosen: Mapping[str, Sequence[NightSpec]], settings: DetectorSettings | None, cache: Path,
    jobs: int,
) -> list[tuple[str, Sequence[NightScore]]]:
    """The production pipeline (``settings``; None = defaults) over each named night set, scored
    night by night; each name gets its hours appended ("corpus 84 h")."""
    sets: list[tuple[str, Sequence[NightScore]]] = []
    for name, specs in chosen.items():
        result = run_corpus(specs, "pipeline", cache, jobs, settings)
        sets.append((f"{name} {sum(s.hours for s in specs):g} h", result.score.nights))
    return sets


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pooled",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-j", "--jobs", type=int, default=1, help="parallel processes")
    parser.add_argument("--quick", action="store_true", help="the 5-h quick set only")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one [detector] key (repeatable)",
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML whose [detector] the pipeline gets"
    )
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="corpus cache directory")
    parser.add_argument(
        "--json", type=Path, metavar="OUT", help="also write every set's scores (hits, misses, "
        "false alarms per night) as JSON"
    )  # fmt: skip
    args = parser.parse_args(argv)
    chosen: dict[str, tuple[NightSpec, ...]] = {"quick": QUICK} if args.quick else NIGHT_SETS
    try:
        sets = score_sets(chosen, detector_settings(args.config, args.set), args.cache, args.jobs)
    except (InputError, ConfigError) as exc:
        print(f"benchmarks.pooled: {exc}", file=sys.stderr)
        return exc.exit_code
    print(report(sets))
    if args.json:
        doc = {name: to_dict(aggregate(scores)) for name, scores in sets}
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
