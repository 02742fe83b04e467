"""Replay every benchmark night with this checkout's ``crampwatch replay`` and keep the events,
so two checkouts can be compared byte for byte (a refactor must not change one event).

::

    python -m benchmarks.replay_snapshot --out before/          # on the old checkout
    python -m benchmarks.replay_snapshot --out after/           # on the new one
    python -m benchmarks.replay_snapshot --compare before/ after/

Nights come from the EDF cache (``benchmarks.corpus``: the corpus and the held-out set), generated
on first use; ``--out`` gets one ``NIGHT.jsonl`` per night. ``--compare`` prints the nights whose
files differ and exits 1 if any does.
"""

from __future__ import annotations

import argparse
import filecmp
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.corpus import CORPUS, DEFAULT_CACHE, HOLDOUT, ensure_night, night_dir


def snapshot(out: Path, cache: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    directory = night_dir(cache)
    for spec in (*CORPUS, *HOLDOUT):
        night = ensure_night(spec, directory)
        target = out / f"{spec.name}.jsonl"
        subprocess.run(
            [sys.executable, "-m", "bedside.cli", "-q", "replay", str(night.edf),
             "--events", str(target)],
            check=True,
        )
        print(f"{spec.name}: {sum(1 for _ in target.open())} events", flush=True)
    return 0


def compare(a: Path, b: Path) -> int:
    names = sorted({p.name for p in a.glob("*.jsonl")} | {p.name for p in b.glob("*.jsonl")})
    differ = [n for n in names if not (a / n).exists() or not (b / n).exists()
              or not filecmp.cmp(a / n, b / n, shallow=False)]
    for name in differ:
        print(f"differs: {name}")
    print(f"{len(names)} nights, {len(differ)} differ")
    return 1 if differ else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replay_snapshot",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--out", type=Path, metavar="DIR", help="write NIGHT.jsonl files here")
    which.add_argument("--compare", type=Path, nargs=2, metavar=("A", "B"))
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="corpus cache")
    args = parser.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    return snapshot(args.out, args.cache)


if __name__ == "__main__":
    sys.exit(main())
