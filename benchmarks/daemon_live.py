"""The live daemon's CPU share at real time, and its memory and file descriptors over a night.

Runs ``crampwatch run --virtual sim:SEED`` as a subprocess (the production path: bleak over the
bumble backend, codec, detector, recording, event history; MQTT and prompt off) and samples
``/proc/<pid>`` every ``--sample-s`` seconds.

Note that the virtual wearable and both bumble host stacks run inside the measured process, so
the CPU share is an upper bound of the daemon's own share on a Pi (where BlueZ and the radio do
that work outside it).

    python -m benchmarks.daemon_live cpu --minutes 3          # real time: CPU share of one core
    python -m benchmarks.daemon_live night --hours 8          # accelerated: RSS and fds flat?
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Sample:
    wall_s: float
    cpu_s: float
    rss_mb: float
    fds: int


def sample(pid: int, t0: float) -> Sample | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None
    cpu = (int(stat[11]) + int(stat[12])) / CLK_TCK  # utime + stime, proc(5) fields 14 and 15
    rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    return Sample(time.monotonic() - t0, cpu, rss_kb / 1024, fds)


def run_daemon(hours: float, speed: str, seed: int, sample_s: float) -> tuple[list[Sample], float]:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.toml"
        config.write_text(f'[daemon]\nstate_dir = "{tmp}/state"\n[prompt]\nbackend = "none"\n')
        argv = [
            sys.executable,
            "-m",
            "bedside.cli",
            "-q",
            "run",
            "--config",
            str(config),
            "--virtual",
            f"sim:{seed}",
            "--hours",
            str(hours),
            "--profile",
            "typical",
            "--speed",
            speed,
        ]
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
        samples: list[Sample] = []
        while proc.poll() is None:
            s = sample(proc.pid, t0)
            if s is not None:
                samples.append(s)
            time.sleep(sample_s)
        wall = time.monotonic() - t0
        if proc.returncode != 0:
            raise SystemExit(f"daemon exited with {proc.returncode}")
    return samples, wall


def cpu_share(args: argparse.Namespace) -> None:
    samples, wall = run_daemon(args.minutes / 60, "1", args.seed, args.sample_s)
    # Skip the start-up (imports, rendering, connecting): the steady state is what runs all night.
    steady = [s for s in samples if s.wall_s >= args.warmup_s]
    if len(steady) < 2:
        raise SystemExit("run longer than the warm-up")
    share = (steady[-1].cpu_s - steady[0].cpu_s) / (steady[-1].wall_s - steady[0].wall_s)
    print(f"command: python -m benchmarks.daemon_live cpu --minutes {args.minutes:g}")
    print(f"real-time stream of {args.minutes:g} min, wall {wall:.1f} s")
    print(
        f"steady-state CPU share of one core: {100 * share:.2f} % "
        f"(from t={steady[0].wall_s:.0f} s to t={steady[-1].wall_s:.0f} s)"
    )
    print(f"RSS {steady[-1].rss_mb:.0f} MB, open fds {steady[-1].fds}")


def night(args: argparse.Namespace) -> None:
    samples, wall = run_daemon(args.hours, "max", args.seed, args.sample_s)
    if len(samples) < 10:
        raise SystemExit("too few samples; lower --sample-s")
    n = len(samples)
    first = samples[n // 10 : n // 8 + 1]  # after start-up, about the first hour of eight
    last = samples[-(n // 8) :]
    rss_first = statistics.median(s.rss_mb for s in first)
    rss_last = statistics.median(s.rss_mb for s in last)
    print(f"command: python -m benchmarks.daemon_live night --hours {args.hours:g}")
    print(
        f"{args.hours:g}-h virtual night at max speed: wall {wall:.0f} s "
        f"({args.hours * 3600 / wall:.1f}× real time)"
    )
    print(
        f"RSS first eighth {rss_first:.1f} MB, last eighth {rss_last:.1f} MB, "
        f"ratio {rss_last / rss_first:.3f}, peak {max(s.rss_mb for s in samples):.1f} MB"
    )
    print(f"open fds first {first[0].fds}, last {last[-1].fds}, max {max(s.fds for s in samples)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    cpu = sub.add_parser("cpu", help="CPU share while streaming at real time")
    cpu.add_argument("--minutes", type=float, default=3.0)
    cpu.add_argument("--warmup-s", type=float, default=30.0)
    full = sub.add_parser("night", help="RSS and fds over an accelerated night")
    full.add_argument("--hours", type=float, default=8.0)
    for p in (cpu, full):
        p.add_argument("--seed", type=int, default=11)
        p.add_argument("--sample-s", type=float, default=2.0)
    args = parser.parse_args()
    (cpu_share if args.mode == "cpu" else night)(args)


if __name__ == "__main__":
    main()
