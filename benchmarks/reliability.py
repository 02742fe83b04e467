"""Reliability figures of the live daemon (issue 7), each with real processes and a real broker.

python -m benchmarks.reliability kill-recording --runs 20
    SIGKILL ``crampwatch run`` at random moments while it records a real-time virtual night;
    each session file must read back to within 5 s of the kill.
python -m benchmarks.reliability outage --outage-min 10
    A real mosquitto stops; cramps happen; the daemon is SIGKILLed inside the outage and a new
    one starts on the same state directory; the broker comes back: every event in the event
    history must reach a subscriber, in order (duplicates only with the same event_id).
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from firmware_bridge.recording import Notification, read_session
from tests.broker import Broker, Subscriber


def daemon(
    config: Path, log: Path, *, seed: int, hours: float, speed: str, profile: str
) -> subprocess.Popen[bytes]:
    """``crampwatch run`` on a virtual night; its log goes to ``log`` (a pipe could fill up)."""
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "bedside.cli", "run", "--config", str(config),
             "--virtual", f"sim:{seed}", "--hours", str(hours), "--speed", speed,
             "--profile", profile],
            stdout=subprocess.DEVNULL, stderr=sink,
        )  # fmt: skip


def wait_for_line(log: Path, text: str, *, count: int = 1, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and log.read_text(errors="replace").count(text) >= count:
            return
        time.sleep(0.2)
    raise SystemExit(f"daemon never logged {text!r}; see {log}")


def kill_recording(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    lags: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            state = Path(tmp) / f"run{run}"
            config = Path(tmp) / f"run{run}.toml"
            config.write_text(f'[daemon]\nstate_dir = "{state}"\n[prompt]\nbackend = "none"\n')
            log = Path(tmp) / f"run{run}.log"
            proc = daemon(config, log, seed=run, hours=1.0, speed="1", profile="typical")
            wait_for_line(log, "connected to")
            time.sleep(rng.uniform(2.0, args.max_wait_s))
            killed_at = time.time()
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            (session,) = (state / "sessions").iterdir()
            with read_session(session) as reader:
                last = max((r.t_wall for r in reader if isinstance(r, Notification)), default=None)
            if last is None:
                raise SystemExit(f"run {run}: nothing readable in {session}")
            lags.append(killed_at - last)
            print(f"run {run:2d}: killed {killed_at - last:5.2f} s after the last readable record")
    lags.sort()
    print(f"command: python -m benchmarks.reliability kill-recording --runs {args.runs}")
    print(
        f"{len(lags)} SIGKILLs: recording reads to within median {lags[len(lags) // 2]:.2f} s, "
        f"max {lags[-1]:.2f} s of the kill (budget 5 s)"
    )
    if lags[-1] > 5.0:
        raise SystemExit("over budget")


def outage(args: argparse.Namespace) -> None:
    outage_s = args.outage_min * 60
    with tempfile.TemporaryDirectory() as tmp:
        broker = Broker(Path(tmp) / "broker")
        broker.start()
        state = Path(tmp) / "state"
        config = Path(tmp) / "outage.toml"
        config.write_text(
            f'[mqtt]\nenabled = true\nhost = "127.0.0.1"\nport = {broker.port}\n'
            f'node_id = "outage"\nreconnect_max_delay_s = 5.0\n'
            f'[daemon]\nstate_dir = "{state}"\n[prompt]\nbackend = "none"\n'
        )
        procs: list[subprocess.Popen[bytes]] = []
        try:
            subscriber = Subscriber(broker, ["crampwatch/outage/cramp/event"])
            log = Path(tmp) / "daemon.log"
            first = daemon(config, log, seed=args.seed, hours=8, speed=args.speed, profile="dense")
            procs.append(first)
            wait_for_line(log, "connected to")
            time.sleep(args.lead_s)
            broker.stop()
            t_down = time.monotonic()
            print(f"broker stopped; outage of {args.outage_min:g} min", flush=True)
            time.sleep(outage_s / 2)
            first.send_signal(signal.SIGKILL)
            first.wait()
            print("first daemon SIGKILLed inside the outage", flush=True)
            second = daemon(
                config, log, seed=args.seed + 1, hours=8, speed=args.speed, profile="dense"
            )
            procs.append(second)
            time.sleep(max(0.0, outage_s - (time.monotonic() - t_down)))
            broker.start()
            print("broker back", flush=True)
            time.sleep(args.after_s)  # the second daemon goes on detecting and publishing live
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=60)
            history = [
                json.loads(line) for line in (state / "events.jsonl").read_text().splitlines()
            ]
            wanted = [e["event_id"] for e in history]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                got = [json.loads(m.payload)["event_id"] for m in subscriber.messages]
                if set(wanted) <= set(got):
                    break
                time.sleep(0.5)
            subscriber.close()
            broker.stop()
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        print(f"daemons logged {log.read_text().count('ERROR')} ERROR line(s)")
    first_seen = list(dict.fromkeys(got))
    missing = [e for e in wanted if e not in set(got)]
    in_order = [e for e in first_seen if e in set(wanted)] == [e for e in wanted if e in set(got)]
    print(f"command: python -m benchmarks.reliability outage --outage-min {args.outage_min:g}")
    print(
        f"events in the history (both daemons, written before any publish): {len(wanted)}; "
        f"received: {len(set(got) & set(wanted))}; missing: {len(missing)}; "
        f"duplicates (same event_id): {len(got) - len(set(got))}; in order: {in_order}"
    )
    if missing or not in_order or not wanted:
        raise SystemExit("FAILED")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    kill = sub.add_parser("kill-recording")
    kill.add_argument("--runs", type=int, default=20)
    kill.add_argument("--max-wait-s", type=float, default=15.0)
    kill.add_argument("--seed", type=int, default=1)
    out = sub.add_parser("outage")
    out.add_argument("--outage-min", type=float, default=10.0)
    out.add_argument("--lead-s", type=float, default=20.0)
    out.add_argument("--speed", default="30")
    out.add_argument("--after-s", type=float, default=60.0)
    out.add_argument("--seed", type=int, default=21)
    args = parser.parse_args()
    (kill_recording if args.mode == "kill-recording" else outage)(args)


if __name__ == "__main__":
    main()
