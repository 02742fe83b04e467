"""The ±50 % sweep of the detector settings over the pooled nights (issue 15).

::

    python -m benchmarks.sweep [-j N] [--factor 0.5] [KEY ...]

For each numeric ``[detector]`` setting named (default: every one that is a tuning, i.e. not
``shank_axis`` or ``min_emg_rate_hz``), sets it to (1 − factor) × and (1 + factor) × its default,
clamped to its documented range (an integer setting is rounded and kept ≥ 1 apart from its
default), runs the pipeline over every set of ``benchmarks.corpus.NIGHT_SETS`` from the EDF
cache and prints one Markdown row per setting: each value's pooled timely / counted
sensitivity, false alarms, latency median/p90, end error median/p90, fragments and false records,
and whether either value moved any of those figures from the defaults' (the base row, run first).

The pooled nights include the held-out sets, so the table says which settings matter; it must
not be used to pick values.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from bedside.offline.scoring import Metrics, aggregate
from benchmarks.corpus import DEFAULT_CACHE, NIGHT_SETS
from benchmarks.pooled import score_sets
from detector.settings import DetectorSettings

NOT_TUNINGS = frozenset({"shank_axis", "min_emg_rate_hz"})  # an axis index; a refusal limit


def swept_values(name: str, factor: float) -> tuple[float, float]:
    """(low, high) for setting ``name``: its default × (1 ∓ factor), clamped to its range."""
    meta = next(f for f in fields(DetectorSettings) if f.name == name)
    default = getattr(DetectorSettings(), name)
    lo_bound, hi_bound = meta.metadata["min"], meta.metadata["max"]
    low = min(max(default * (1 - factor), lo_bound), hi_bound)
    high = min(max(default * (1 + factor), lo_bound), hi_bound)
    if isinstance(default, int):
        low = max(lo_bound, min(round(low), default - 1))
        high = min(hi_bound, max(round(high), default + 1))
    return low, high


def figures(m: Metrics) -> tuple[object, ...]:
    """What the sweep compares, rounded as printed."""
    def r(x: float | None) -> str:
        return "—" if x is None else f"{x:.1f}"

    return (
        f"{100 * (m.sensitivity or 0):.1f}%", f"{100 * (m.counted_sensitivity or 0):.1f}%",
        m.false_alarms, r(m.latency_median_s), r(m.latency_p90_s),
        r(m.end_error_median_abs_s), r(m.end_error_p90_abs_s), m.fragments, m.false_records,
    )


def describe(fig: tuple[object, ...] | str) -> str:
    """The figures as a table cell reads them (or why the value was refused)."""
    if isinstance(fig, str):
        return fig
    t, c, fa, lm, lp, em, ep, frag, fr = fig
    return f"{t} / {c}, FA {fa}, lat {lm}/{lp}, end {em}/{ep}, frag {frag}, false rec {fr}"


def pooled_figures(settings: DetectorSettings, cache: Path, jobs: int) -> tuple[object, ...] | str:
    try:
        sets = score_sets(NIGHT_SETS, settings, cache, jobs)
    except ValueError as exc:  # a value the pipeline refuses (e.g. an empty EMG band)
        return f"refused ({exc})"
    return figures(aggregate(s for _, scores in sets for s in scores).metrics)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("keys", nargs="*", help="settings to sweep (default: every tuning)")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="parallel processes")
    parser.add_argument("--factor", type=float, default=0.5, help="relative step (0.5 = ±50 %%)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="corpus cache directory")
    args = parser.parse_args(argv)
    names = [f.name for f in fields(DetectorSettings) if f.name not in NOT_TUNINGS]
    unknown = [k for k in args.keys if k not in names]
    if unknown:
        print(f"benchmarks.sweep: not a tuning setting: {unknown[0]}", file=sys.stderr)
        return 2
    base_settings = DetectorSettings()
    base = pooled_figures(base_settings, args.cache, args.jobs)
    step = f"{100 * args.factor:g} %"
    print(f"| base (defaults) | {describe(base)} | | |", flush=True)
    print(f"| setting (default) | −{step} | +{step} | moves a figure? |")
    print("| --- | --- | --- | --- |", flush=True)
    for name in args.keys or names:
        default = getattr(base_settings, name)
        cells, moved = [], False
        for value in swept_values(name, args.factor):
            changed: dict[str, Any] = {name: value}
            fig = (base if value == default
                   else pooled_figures(replace(base_settings, **changed), args.cache, args.jobs))
            moved |= fig != base
            cells.append(f"{value:g}: {describe(fig)}")
        verdict = "yes" if moved else "**no**"
        print(f"| `{name}` ({default:g}) | {cells[0]} | {cells[1]} | {verdict} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
