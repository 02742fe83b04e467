"""``crampwatch simulate``: write a synthetic night (EDF+ and truth JSON) for tuning and scoring."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

from firmware_bridge.errors import InputError
from firmware_bridge.simulation import PROFILES, plan_night, truth_path, write_night
from firmware_bridge.simulation.subject import ACCEL_RATE_LIMITS_HZ, EMG_RATE_LIMITS_HZ

log = logging.getLogger(__name__)

HELP = "simulate a night: EDF+ with EMG and accelerometer, plus NIGHT.truth.json beside it"


def _rate(limits: tuple[float, float], what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what}: not a number: {text!r}") from None
        if not limits[0] <= value <= limits[1] or value != round(value):
            raise argparse.ArgumentTypeError(
                f"{what} must be a whole number of Hz in {limits[0]:g}..{limits[1]:g}, got {text}"
            )
        return value

    return parse


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= 24):
        raise argparse.ArgumentTypeError(f"hours must lie in (0, 24], got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hours", type=_hours, default=8.0, help="night length (default 8)")
    parser.add_argument(
        "--seed", type=int, required=True, help="random seed (same seed, same night)"
    )
    parser.add_argument(
        "--profile",
        choices=tuple(PROFILES),
        default="typical",
        help="dense: many cramps and confounders; typical: 0–3 cramps; quiet: at most one",
    )
    parser.add_argument(
        "--emg-rate",
        type=_rate(EMG_RATE_LIMITS_HZ, "EMG rate"),
        default=None,
        metavar="HZ",
        help="force the EMG sampling rate (default: drawn per subject, 500–2000 Hz)",
    )
    parser.add_argument(
        "--accel-rate",
        type=_rate(ACCEL_RATE_LIMITS_HZ, "accelerometer rate"),
        default=None,
        metavar="HZ",
        help="force the accelerometer rate (default: drawn, 50–100 Hz)",
    )
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="NIGHT.edf")
    parser.add_argument("--force", action="store_true",
                        help="overwrite NIGHT.edf and its truth if they exist")
    parser.add_argument("--json", action="store_true",
                        help="print what was written as one JSON object")


def run(args: argparse.Namespace) -> int:
    out: Path = args.output
    if not out.parent.is_dir():
        raise InputError(f"{out}: folder {out.parent} does not exist", path=str(out))
    existing = [p for p in (out, truth_path(out)) if p.exists()]
    if existing and not args.force:
        raise InputError(f"{existing[0]} exists; give --force to overwrite it",
                         path=str(existing[0]))
    t0 = time.monotonic()
    plan = plan_night(
        seed=args.seed,
        hours=args.hours,
        profile=args.profile,
        emg_rate_hz=args.emg_rate,
        accel_rate_hz=args.accel_rate,
    )
    write_night(plan, out)
    truth = plan.truth
    if args.json:
        json.dump({
            "edf": str(out), "truth": str(truth_path(out)), "seed": args.seed,
            "profile": args.profile, "duration_s": plan.duration_s,
            "emg_labels": list(plan.emg_labels), "emg_rate_hz": plan.emg_rate_hz,
            "accel_rate_hz": plan.accel_rate_hz, "cramps": len(truth["cramps"]),
            "short_cramps": len(truth["short_cramps"]),
            "confounders": len(truth["confounders"]), "bad_signal": len(truth["bad_signal"]),
            "wall_s": round(time.monotonic() - t0, 3),
        }, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(
        f"{out}: {plan.duration_s / 3600:.2f} h, {', '.join(plan.emg_labels)} at "
        f"{plan.emg_rate_hz:g} Hz, accelerometer at {plan.accel_rate_hz:g} Hz; "
        f"{len(truth['cramps'])} cramps (+{len(truth['short_cramps'])} short), "
        f"{len(truth['confounders'])} confounders, {len(truth['bad_signal'])} bad-signal spans; "
        f"truth in {truth_path(out)} ({time.monotonic() - t0:.1f} s)"
    )
    return 0
