"""``crampwatch tune NIGHT... --grid PARAM=V1,V2,… [--folds K] [-j N] [--config F] -o best.toml``.

Each NIGHT (EDF/BDF or session recording) needs labels: a ``NIGHT.truth.json`` beside it,
EDF+ cramp annotations, or ``NIGHT.labels.json`` (``crampwatch label``); unlabelled nights are
refused. The table goes to stdout, the progress bar to stderr (a terminal only). The rule and
the cross-validation are described in :mod:`bedside.offline.tune`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from bedside.config.settings import load_settings
from bedside.offline.labels import truth_for
from bedside.offline.tune import ProgressBar, format_result, parse_grid, render_toml, tune
from firmware_bridge.errors import InputError

log = logging.getLogger(__name__)

HELP = (
    "sweep detector settings over labelled nights (parallel processes), cross-validated by "
    "night; print the table and Pareto front, write the chosen [detector] section"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("nights", nargs="+", metavar="SESSION_OR_EDF", help="labelled recordings")
    parser.add_argument(
        "--grid",
        action="append",
        required=True,
        metavar="PARAM=V1,V2,...",
        help="a [detector] key and the values to try; repeat for several keys (all combinations)",
    )
    parser.add_argument("--folds", type=int, default=5, metavar="K", help="cross-validation folds")
    parser.add_argument("-j", "--jobs", type=int, default=1, metavar="N", help="worker processes")
    parser.add_argument("--config", metavar="FILE", help="current configuration (the reference)")
    parser.add_argument("-o", "--output", required=True, metavar="best.toml", help="write here")


def run(args: argparse.Namespace) -> int:
    base = load_settings(args.config).detector
    grid = parse_grid(args.grid)
    nights = []
    for name in args.nights:
        path = Path(name)
        if not path.exists():
            raise InputError(f"{path}: no such file", path=str(path))
        night = truth_for(path)
        if night is None:
            raise InputError(
                f"{path}: no labels (no .truth.json, no cramp annotations, no .labels.json); "
                "label it with 'crampwatch label'",
                path=str(path),
            )
        log.info("%s: %d cramp(s) from %s", path, night.cramps, ", ".join(night.sources))
        nights.append(night)
    if args.jobs < 1 or args.folds < 0:
        raise InputError("-j must be ≥ 1 and --folds ≥ 0")
    result = tune(nights, base, grid, k=args.folds, jobs=args.jobs, progress=ProgressBar())
    for warning in result.warnings:
        log.warning("%s", warning)
    print(format_result(result))
    out = Path(args.output)
    try:
        out.write_text(render_toml(result.settings[result.chosen], result), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{out}: cannot write: {exc}", path=str(out)) from exc
    print(f"wrote {out}")
    return 0
