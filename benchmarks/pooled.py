"""Every benchmark night set at once, and pooled: how detector variants are compared.

::

    python -m benchmarks.pooled [-j N] [--set KEY=VALUE ...] [--config FILE]

Runs the production pipeline over the official corpus (84 h) and the held-out nights (60 h, seeds
200+) from the EDF cache, as ``benchmarks.run`` does, and over the earlier held-out nights (60 h,
rendered in memory, as ``benchmarks.detector_speed --quality`` renders them). Prints one scorer
row per set and the pooled row (``detector.scoring.aggregate`` over all 33 nights: hits, false
alarms per 8 h, latency median / p90 and end error over every hit), then the pooled false alarms
by cause. A change that only fits one set shows up in the other two.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.corpus import CORPUS, DEFAULT_CACHE, HOLDOUT
from benchmarks.detector_speed import quality
from benchmarks.run import detector_settings, run_corpus
from detector.scoring import TABLE_HEADER, NightScore, aggregate, format_row

EARLIER_HELD_OUT = "dense:201-206:2,typical:301-304:8,quiet:401-402:8"  # 12 nights, 60 h


def pooled_table(sets: Sequence[tuple[str, Sequence[NightScore]]]) -> str:
    """One scorer row per named set, then the pooled row and its false alarms by cause."""
    lines = [TABLE_HEADER, "-" * len(TABLE_HEADER)]
    lines += [format_row(name, aggregate(scores).metrics) for name, scores in sets]
    pooled = aggregate(score for _, scores in sets for score in scores).metrics
    lines += ["-" * len(TABLE_HEADER), format_row(f"pooled ({pooled.nights} nights)", pooled)]
    if pooled.false_alarms_by_cause:
        lines.append("false alarms by cause: " + ", ".join(
            f"{k} {v}" for k, v in pooled.false_alarms_by_cause.items()))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pooled", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-j", "--jobs", type=int, default=1, help="parallel processes")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one [detector] key (repeatable)")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="TOML whose [detector] the pipeline gets")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="corpus cache directory")
    args = parser.parse_args(argv)
    settings = detector_settings(args.config, args.set)
    sets: list[tuple[str, Sequence[NightScore]]] = []
    for name, specs in (("corpus 84 h", CORPUS), ("held-out 60 h", HOLDOUT)):
        result = run_corpus(specs, "pipeline", args.cache, args.jobs, settings)
        sets.append((name, result.score.nights))
    sets.append(("earlier held-out 60 h", quality(EARLIER_HELD_OUT, settings, verbose=False)))
    print(pooled_table(sets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
