"""The fixed benchmark corpus: simulated nights (seeds × profiles), generated once into a cache.

``CORPUS`` is 12 nights, 84 night-hours: for each profile (dense, typical, quiet) three full 8-h
nights and one 4-h night, each with its own seed and hence its own simulated subject (the seed
draws the EMG and accelerometer rates, channels, mains frequency, floor and amplitude too).
``QUICK`` is 3 one-hour nights, one per profile, and a 2-h family-mix night, for a fast look.
Held out from tuning: ``HOLDOUT`` (9 nights, 60 h, seeds 200+), ``HOLDOUT_B`` (12 nights, 60 h,
seeds 500+), ``FAMILY_MIX`` (6 nights, 48 h, seeds 700+, the issue-15 cramp families) and
``HOLDOUT_C`` (12 nights, 60 h, seeds 1001+, new with the second issue-15 pass). Tuned on
besides ``CORPUS``: ``CORPUS_FAMILIES`` (18 "families" nights, 144 h, seeds 801+).

Nights are written with ``write_night`` as EDF+ plus ``.truth.json`` into
``benchmarks/.corpus/<fingerprint>/`` (gitignored), where the fingerprint hashes the simulator's
source: change it and the corpus is regenerated, never silently stale.

``python -m benchmarks.corpus [--quick | --holdout | --holdout-b | --family-mix | --holdout-c |
--corpus-families] [-j N] [--prune]``
generates a set (default the corpus) and prints the seconds each night took (plan + render + EDF
write), which is the simulator's generation time; ``--prune`` first deletes the nights of other
simulator versions (all sets: ~3.7 GB per version).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detector.types import FloatArray
from firmware_bridge.edf import EdfReader
from firmware_bridge.errors import InputError

PROFILES = ("dense", "typical", "quiet")
DEFAULT_CACHE = Path(__file__).resolve().parent / ".corpus"
ROOT = Path(__file__).resolve().parent.parent
ACCEL_LABELS = ("Accel X", "Accel Y", "Accel Z")  # contracts.md "EDF files"
BLOCK_S = 60.0  # offline replay reads a minute at a time (house-style.md §2)


@dataclass(frozen=True, slots=True)
class NightSpec:
    """One corpus night: simulator profile, seed and length (h); rates None = the subject's."""

    profile: str
    seed: int
    hours: float
    emg_rate_hz: float | None = None
    accel_rate_hz: float | None = None

    @property
    def name(self) -> str:
        return f"{self.profile}-s{self.seed}-{self.hours:g}h"


# The seed draws the subject too, so every night gets its own seed: 12 different subjects.
CORPUS: tuple[NightSpec, ...] = tuple(
    NightSpec(profile, 4 * p + k + 1, hours)
    for p, profile in enumerate(PROFILES)
    for k, hours in enumerate((8.0, 8.0, 8.0, 4.0))
)
# Held out: never looked at while tuning a default; reported beside CORPUS so that a change that
# only fits the corpus nights shows (seeds 200+, dense and typical profiles, 60 h).
HOLDOUT: tuple[NightSpec, ...] = tuple(
    NightSpec(profile, 200 + 10 * p + k, hours)
    for p, profile in enumerate(("dense", "typical", "dense"))
    for k, hours in enumerate((8.0, 8.0, 4.0))
)
# A second held-out set with other seeds (500+) and every profile: 60 h.
HOLDOUT_B: tuple[NightSpec, ...] = (
    *(NightSpec("dense", seed, 2.0) for seed in range(501, 507)),
    *(NightSpec("typical", seed, 8.0) for seed in range(511, 515)),
    *(NightSpec("quiet", seed, 8.0) for seed in range(521, 523)),
)
# Held out, new with issue 15: the "families" profile (6–10 cramps a night, drawn evenly from the
# six issue-15 families, typical confounders), seeds 700+, 48 h. Once a rule has been adjusted to
# one of its failures it is no longer held out: add a new set then (issue 15).
FAMILY_MIX: tuple[NightSpec, ...] = tuple(
    NightSpec("families", seed, 8.0) for seed in range(701, 707)
)
# Held out, new with the second issue-15 pass: the post-cramp raise capped by the measured
# residual was motivated by a held-out B failure (dense-s504, 3288 s), so these nights, never
# looked at before that change, judge it (seeds 1001+, 60 h; families, dense and typical).
HOLDOUT_C: tuple[NightSpec, ...] = (
    *(NightSpec("families", seed, 8.0) for seed in range(1001, 1005)),
    *(NightSpec("dense", seed, 2.0) for seed in range(1011, 1017)),
    *(NightSpec("typical", seed, 8.0) for seed in range(1021, 1023)),
)
# Tuned on, new with the second issue-15 pass: the corpus has no "families" night, so the
# families' rules were tuned on private nights; these make that tuning set public (seeds 801+,
# 144 h: 801-806 from the start of the pass, 807-818 once the walk-off and waking rules were
# tuned on them). Its name starts with "corpus": benchmarks.pooled counts it as tuned on.
CORPUS_FAMILIES: tuple[NightSpec, ...] = tuple(
    NightSpec("families", seed, 8.0) for seed in range(801, 819)
)
QUICK: tuple[NightSpec, ...] = (
    *(
        NightSpec(profile, seed, 1.0)
        for profile, seed in zip(PROFILES, (101, 102, 103), strict=True)
    ),
    NightSpec("families", 104, 2.0),
)
# The sets benchmarks.pooled reports, by name; those named "corpus…" are for tuning.
NIGHT_SETS: dict[str, tuple[NightSpec, ...]] = {
    "corpus": CORPUS,
    "corpus families": CORPUS_FAMILIES,
    "held-out A": HOLDOUT,
    "held-out B": HOLDOUT_B,
    "family mix": FAMILY_MIX,
    "held-out C": HOLDOUT_C,
}


def add_night_set_options(parser: argparse.ArgumentParser) -> None:
    """``--quick`` / ``--holdout`` / ``--holdout-b`` / ``--family-mix`` (one at most; none =
    ``CORPUS``) for the benchmark CLIs."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--quick", action="store_true", help="the 4-night quick subset")
    which.add_argument(
        "--holdout", action="store_true", help="held-out A: 9 nights (seeds 200+, 60 h)"
    )
    which.add_argument(
        "--holdout-b", action="store_true", help="held-out B: 12 nights (seeds 500+, 60 h)"
    )
    which.add_argument(
        "--family-mix", action="store_true", help="the family-mix held-out set (seeds 700+, 48 h)"
    )
    which.add_argument(
        "--holdout-c", action="store_true", help="held-out C: 12 nights (seeds 1001+, 60 h)"
    )
    which.add_argument(
        "--corpus-families", action="store_true",
        help="the families nights tuned on (seeds 801+, 144 h)",
    )


def chosen_night_set(args: argparse.Namespace) -> tuple[NightSpec, ...]:
    """The night set that :func:`add_night_set_options` flags in ``args`` chose."""
    for flag, specs in (
        ("quick", QUICK),
        ("holdout", HOLDOUT),
        ("holdout_b", HOLDOUT_B),
        ("family_mix", FAMILY_MIX),
        ("corpus_families", CORPUS_FAMILIES),
        ("holdout_c", HOLDOUT_C),
    ):
        if getattr(args, flag, False):
            return specs
    return CORPUS


def simulator_fingerprint() -> str:
    """12 hex digits of SHA-256 over the simulator's source files (what decides the samples)."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "firmware_bridge" / "simulation").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Night:
    """A generated night on disk; wall and CPU seconds it took to generate (None: cached)."""

    spec: NightSpec
    edf: Path
    truth: Path
    generation_s: float | None
    generation_cpu_s: float | None = None


def night_dir(cache_dir: Path = DEFAULT_CACHE) -> Path:
    return cache_dir / simulator_fingerprint()


def ensure_night(spec: NightSpec, directory: Path) -> Night:
    """Return the night from ``directory`` (a :func:`night_dir`), generating it if absent.

    Generation is atomic (temporary directory, then rename), so parallel runs and interrupted
    runs never leave half a night behind. Callers compute ``directory`` once per run, so every
    night of a run lands under the same simulator fingerprint.
    """
    from firmware_bridge.simulation import plan_night, truth_path, write_night

    edf = directory / f"{spec.name}.edf"
    truth = truth_path(edf)
    if edf.is_file() and truth.is_file():
        return Night(spec, edf, truth, None, None)
    tmp = directory / f".tmp-{spec.name}-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        plan = plan_night(
            seed=spec.seed,
            hours=spec.hours,
            profile=spec.profile,
            emg_rate_hz=spec.emg_rate_hz,
            accel_rate_hz=spec.accel_rate_hz,
        )
        write_night(plan, tmp / edf.name)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        os.replace(tmp / edf.name, edf)
        os.replace(tmp / truth.name, truth)  # last: a night counts as present once its truth is
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Night(spec, edf, truth, seconds, cpu)


@dataclass(frozen=True, slots=True)
class NightSignals:
    """Where the EMG and accelerometer signals are in an EDF file, and their rates (Hz)."""

    emg_indices: tuple[int, ...]
    emg_labels: tuple[str, ...]
    accel_indices: tuple[int, int, int]
    emg_rate_hz: float
    accel_rate_hz: float
    duration_s: float
    records_per_block: int


def night_signals(reader: EdfReader) -> NightSignals:
    """Find EMG ("EMG…") and "Accel X/Y/Z" signals; :class:`InputError` if missing or mixed."""
    emg = tuple(i for i, s in enumerate(reader.signals) if s.label.startswith("EMG"))
    if not emg:
        raise InputError(f"{reader.path}: no signal labelled 'EMG…'", path=str(reader.path))
    try:
        ax, ay, az = (reader.signal_index(label) for label in ACCEL_LABELS)
    except KeyError as exc:
        raise InputError(f"{reader.path}: no signal {exc}", path=str(reader.path)) from None
    emg_rates = {reader.signals[i].rate_hz for i in emg}
    accel_rates = {reader.signals[i].rate_hz for i in (ax, ay, az)}
    if len(emg_rates) != 1 or len(accel_rates) != 1:
        raise InputError(
            f"{reader.path}: EMG or accelerometer channels differ in rate", path=str(reader.path)
        )
    return NightSignals(
        emg_indices=emg,
        emg_labels=tuple(reader.signals[i].label for i in emg),
        accel_indices=(ax, ay, az),
        emg_rate_hz=emg_rates.pop(),
        accel_rate_hz=accel_rates.pop(),
        duration_s=reader.duration_s,
        records_per_block=max(1, round(BLOCK_S / reader.record_duration_s)),
    )


def iter_night(reader: EdfReader, sig: NightSignals) -> Iterator[tuple[FloatArray, FloatArray]]:
    """Yield ``(emg (n_ch, n) µV, accel (3, m) g)`` blocks of about a minute, in order."""
    indices = [*sig.emg_indices, *sig.accel_indices]
    n_emg = len(sig.emg_indices)
    for block in reader.iter_blocks(indices, sig.records_per_block):
        yield np.vstack(block[:n_emg]), np.vstack(block[n_emg:])


def generate(specs: Sequence[NightSpec], directory: Path, jobs: int) -> list[Night]:
    """Make sure every night exists in ``directory``; ``jobs`` > 1 uses parallel processes."""
    if jobs <= 1:
        return [ensure_night(s, directory) for s in specs]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(ensure_night, specs, [directory] * len(specs)))


def prune(cache_dir: Path) -> list[Path]:
    """Delete the cache's night directories of other simulator fingerprints; returns them."""
    keep = night_dir(cache_dir).name
    stale = [
        d
        for d in (cache_dir.iterdir() if cache_dir.is_dir() else [])
        if d.is_dir() and d.name != keep and len(d.name) == 12 and not d.name.startswith(".")
    ]
    for d in stale:
        shutil.rmtree(d, ignore_errors=True)
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.corpus", description=__doc__)
    add_night_set_options(parser)
    parser.add_argument("-j", "--jobs", type=int, default=1, help="parallel processes")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="cache directory")
    parser.add_argument(
        "--fresh", action="store_true", help="regenerate into a temporary cache (times every night)"
    )
    parser.add_argument(
        "--prune", action="store_true", help="delete cached nights of other simulator versions"
    )
    args = parser.parse_args(argv)
    if args.prune:
        for stale in prune(args.cache):
            print(f"removed {stale}", file=sys.stderr)
    specs = chosen_night_set(args)
    cache: Path = args.cache
    if args.fresh:
        cache = cache / f".fresh-{os.getpid()}"
    directory = night_dir(cache)
    try:
        nights = generate(specs, directory, args.jobs)
        rows = [
            {
                "night": n.spec.name,
                "hours": n.spec.hours,
                "generation_s": n.generation_s,
                "generation_cpu_s": n.generation_cpu_s,
                "mb": round(n.edf.stat().st_size / 1e6, 1),
            }
            for n in nights
        ]
    finally:
        if args.fresh:
            shutil.rmtree(cache, ignore_errors=True)
    for row in rows:
        print(json.dumps(row))
    print(f"cache: {directory}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
