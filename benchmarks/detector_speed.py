"""Speed and quality of the production detector (``detector.pipeline.Pipeline``).

::

    python -m benchmarks.detector_speed [--hours 8] [--seed 7] [--profile typical]
        [--emg-rate HZ] [--block-s 0.05] [--quality dense:1-8:2,typical:11-14:8]

1. **Throughput**: one simulated night (``firmware_bridge.simulation``), rendered a minute at a
   time; per chunk the pipeline's ``process`` and, on the *same* EMG chunk in the same run, one
   bare ``scipy.signal.sosfilt`` 20–450 Hz band-pass pass (``benchmarks.sosfilt_floor``) are
   timed with ``process_time`` (CPU seconds of this process: the machine is shared). Reports ×
   real time of both and the ratio. Peak RSS (``ru_maxrss``) covers the simulator too.
2. **Per-block cost**: the first ``--block-minutes`` of the night fed in ``--block-s`` blocks
   (live link granularity): median, p99 and max per ``process`` call, wall clock and this
   thread's CPU time (the wall clock includes waiting for a core on a loaded machine).
3. **Quality** (``--quality``): ``profile:first-last:hours`` groups of nights, scored with
   ``bedside.offline.scoring`` (contracts.md scoring rule), pooled table.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Sequence

import numpy as np

from bedside.offline.scoring import NightScore, aggregate, format_table, score_night
from benchmarks.sosfilt_floor import SosfiltFloor
from detector.pipeline import Pipeline
from detector.settings import DetectorSettings
from detector.types import DetectorEvent
from firmware_bridge.simulation import plan_night, render_chunks


def make(plan_emg_rate: float, plan_accel_rate: float, labels: Sequence[str],
         settings: DetectorSettings | None = None) -> Pipeline:
    return Pipeline(
        settings or DetectorSettings(),
        emg_rate_hz=plan_emg_rate,
        accel_rate_hz=plan_accel_rate,
        n_emg_channels=len(labels),
        emg_labels=labels,
    )


def event_dicts(events: Sequence[DetectorEvent]) -> list[dict[str, object]]:
    return [
        {"event": e.kind.value, "t_detect": e.t_detect, "t_onset": e.t_onset, "t_end": e.t_end}
        for e in events
    ]


def throughput(hours: float, seed: int, profile: str, emg_rate: float | None) -> None:
    plan = plan_night(seed=seed, hours=hours, profile=profile, emg_rate_hz=emg_rate)
    p = make(plan.emg_rate_hz, plan.accel_rate_hz, plan.emg_labels)
    floor = SosfiltFloor(plan.emg_rate_hz, len(plan.emg_labels))
    cpu = 0.0
    events: list[DetectorEvent] = []
    for emg, acc in render_chunks(plan, 60.0):
        c0 = time.process_time()
        events += p.process(emg, acc)
        cpu += time.process_time() - c0
        floor.process(emg)
    c0 = time.process_time()
    events += p.finish()
    cpu += time.process_time() - c0
    night_s = plan.duration_s
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"night: {profile} seed {seed}, {hours:g} h, EMG {plan.emg_rate_hz:g} Hz × "
        f"{len(plan.emg_labels)} ch, accel {plan.accel_rate_hz:g} Hz"
    )
    print(f"pipeline: {cpu:.2f} s CPU = {night_s / cpu:,.0f}× real time")
    print(
        f"sosfilt floor: {floor.cpu_seconds:.2f} s CPU = {night_s / floor.cpu_seconds:,.0f}× "
        f"real time; pipeline / floor = {cpu / floor.cpu_seconds:.1f}"
    )
    print(f"peak RSS (simulator + pipeline): {rss_mb:.0f} MB")
    score = score_night(plan.truth, event_dicts(events))
    print(format_table(aggregate([score])))


def per_block(
    seed: int, profile: str, emg_rate: float | None, block_s: float, minutes: float
) -> None:
    plan = plan_night(seed=seed, hours=minutes / 60.0, profile=profile, emg_rate_hz=emg_rate)
    p = make(plan.emg_rate_hz, plan.accel_rate_hz, plan.emg_labels)
    times: list[float] = []
    cpu: list[float] = []
    be, ba = block_s * plan.emg_rate_hz, block_s * plan.accel_rate_hz
    done_e = done_a = 0.0
    for emg, acc in render_chunks(plan, 60.0):
        i0e, i0a = round(done_e), round(done_a)
        ne, na = emg.shape[1], acc.shape[1]
        k = 0
        while True:
            e0, e1 = round(k * be) - 0, round((k + 1) * be)
            a0, a1 = round(k * ba), round((k + 1) * ba)
            if e0 >= ne:
                break
            t0, c0 = time.perf_counter(), time.thread_time()
            p.process(emg[:, e0 : min(e1, ne)], acc[:, min(a0, na) : min(a1, na)])
            times.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
            k += 1
        done_e, done_a = i0e + ne, i0a + na
    for what, values in (("wall clock", times), ("thread CPU", cpu)):
        ms = np.array(values) * 1e3
        print(f"per-block cost ({what}), {block_s * 1e3:g} ms blocks, {len(ms)} calls: median "
              f"{np.median(ms):.3f} ms, p99 {np.percentile(ms, 99):.3f} ms, max {ms.max():.2f} ms")


def quality(spec: str, settings: DetectorSettings | None = None,
            verbose: bool = True) -> list[NightScore]:
    """Score the ``profile:first-last:hours`` groups of ``spec`` (rendered in memory); print a
    line per night and the pooled table unless not ``verbose``."""
    scores: list[NightScore] = []
    for group in spec.split(","):
        profile, seeds, hours = group.split(":")
        first, last = (int(x) for x in seeds.split("-"))
        for seed in range(first, last + 1):
            plan = plan_night(seed=seed, hours=float(hours), profile=profile)
            p = make(plan.emg_rate_hz, plan.accel_rate_hz, plan.emg_labels, settings)
            events: list[DetectorEvent] = []
            for emg, acc in render_chunks(plan, 60.0):
                events += p.process(emg, acc)
            events += p.finish()
            s = score_night(plan.truth, event_dicts(events), name=f"{profile}-s{seed}")
            scores.append(s)
            m = s.metrics
            if verbose:
                print(
                    f"{profile} seed {seed}: cramps {m.cramps} hits {m.hits} FA "
                    f"{m.false_alarms} {dict(m.false_alarms_by_cause)}",
                    flush=True,
                )
    if verbose:
        print(format_table(aggregate(scores)))
    return scores


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.detector_speed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", default="typical")
    ap.add_argument("--emg-rate", type=float, default=None)
    ap.add_argument("--block-s", type=float, default=0.05)
    ap.add_argument("--block-minutes", type=float, default=10.0)
    ap.add_argument("--quality", default="", help="e.g. dense:1-8:2,typical:11-14:8")
    ap.add_argument("--skip-speed", action="store_true")
    args = ap.parse_args(argv)
    if not args.skip_speed:
        throughput(args.hours, args.seed, args.profile, args.emg_rate)
        per_block(args.seed, args.profile, args.emg_rate, args.block_s, args.block_minutes)
    if args.quality:
        quality(args.quality)
    return 0


if __name__ == "__main__":
    sys.exit(main())
