"""``crampwatch demo``: the whole daemon on embedded defaults, no hardware, no setup.

A virtual wearable plays a simulated night (accelerated) over a virtual BLE link to the same
daemon ``crampwatch run`` starts; events are printed as they happen, prompts spoken if audio
works (else written as WAV files). It ends with a summary of the night, scored against the
simulator's ground truth.

MQTT only when asked (``--mqtt URL``): a demo must never leave a simulated cramp in someone's
Home Assistant. It publishes as its own device, ``crampwatch_demo`` (node ``demo``), with a
client id of its own, and removes its discovery and every retained topic when it ends.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from bedside.config.mqtt import parse_broker_url
from bedside.config.settings import Settings, load_settings
from bedside.live.mqtt import purge_node
from bedside.live.service import run_night
from bedside.live.virtual import parse_speed, require_virtual, start_virtual
from bedside.offline.report import write_night_report
from bedside.offline.scoring import aggregate, describe, format_table, score_night
from bedside.stream.records import EventRecord
from detector.types import EventKind
from firmware_bridge.errors import PublishError

HELP = "the daemon on a simulated night from a virtual wearable (no hardware, no setup)"

log = logging.getLogger(__name__)

DEMO_NODE = "demo"  # Home Assistant device crampwatch_demo, topics crampwatch/demo/...


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hours", type=float, default=0.5, help="night length (default 0.5)")
    parser.add_argument(
        "--speed", type=parse_speed, default=parse_speed("120"),
        help="× real time, or max (default 120)",
    )
    parser.add_argument("--seed", type=int, default=3, help="simulator seed (default 3)")
    parser.add_argument(
        "--profile", default="dense", help="simulator profile: dense|typical|quiet (default dense)"
    )
    parser.add_argument(
        "--mqtt", metavar="mqtt://HOST:PORT", default=None,
        help="publish to this broker as the device crampwatch_demo, removed again at the end "
        "(default: no MQTT)",
    )
    parser.add_argument("--no-audio", action="store_true", help="write prompts as WAV files")
    parser.add_argument(
        "--out", metavar="DIR", default="crampwatch-demo",
        help="recording, outbox, WAVs, summary (default ./crampwatch-demo)",
    )
    parser.add_argument("--config", metavar="FILE", help="TOML configuration (default: built-in)")


def _audio_works() -> bool:
    if shutil.which("aplay") is None:
        return False
    try:
        listed = subprocess.run(
            ["aplay", "-l"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "card " in listed.stdout


def _describe(record: EventRecord) -> str:
    if record.kind is EventKind.CRAMP_STARTED and record.t_detect is not None:
        return (
            f"  CRAMP STARTED  {record.leg} leg, onset t={record.t_onset:.1f} s, alarm "
            f"t={record.t_detect:.1f} s ({record.t_detect - record.t_onset:.1f} s later), "
            f"intensity {record.intensity}× rest"
        )
    if record.closes and record.t_end is not None:
        what = "cramp ended   " if record.kind is EventKind.CRAMP_ENDED else "cramp recorded"
        return (
            f"  {what} {record.leg} leg, t={record.t_end:.1f} s, lasted "
            f"{record.duration_s or 0.0:.0f} s, peak {record.peak_intensity}× rest"
        )
    return f"  {record.kind.value} t={record.t if record.t is not None else ''}"


class StatusLine:
    """One live line on a terminal (rewritten in place); plain lines every few s otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self._width = 0

    def __call__(self, text: str) -> None:
        if self.tty:
            width = shutil.get_terminal_size((120, 20)).columns - 1
            line = text[:width]
            sys.stderr.write("\r" + line.ljust(self._width))
            self._width = len(line)
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.tty and self._width:
            sys.stderr.write("\r" + " " * self._width + "\r")
            sys.stderr.flush()
            self._width = 0


def demo_settings(args: argparse.Namespace, out: Path) -> Settings:
    """The configuration (or the built-in one) with the demo's own state directory and, only
    with ``--mqtt``, the demo's own MQTT identity: the configured node, client id and topics
    are never used, so the demo cannot pose as (or disconnect) a real bedside unit."""
    settings = load_settings(args.config)
    mqtt = dataclasses.replace(settings.mqtt, enabled=False)
    if args.mqtt is not None:
        host, port = parse_broker_url(args.mqtt)
        mqtt = dataclasses.replace(
            settings.mqtt, enabled=True, host=host, port=port, node_id=DEMO_NODE,
            base_topic="crampwatch/{node}",
            client_id=f"crampwatch-{DEMO_NODE}-{secrets.token_hex(4)}",
        )
    return dataclasses.replace(
        settings,
        mqtt=mqtt,
        daemon=dataclasses.replace(settings.daemon, state_dir=str(out), stats_interval_s=600.0),
    )


def remove_from_broker(settings: Settings) -> None:
    """Clear the demo's discovery and retained topics (its night is over)."""
    try:
        result = purge_node(settings.mqtt)
    except PublishError as exc:
        log.warning("MQTT: the demo's retained topics could not be removed: %s; run "
                    "`crampwatch mqtt purge --node %s --mqtt mqtt://%s:%d`", exc, DEMO_NODE,
                    settings.mqtt.host, settings.mqtt.port)
        return
    print(f"  MQTT: removed the demo device from {result.host}:{result.port} "
          f"({result.retained_found} retained topic(s) found, {len(result.cleared)} cleared "
          "with its discovery topics)")


def run(args: argparse.Namespace) -> int:
    require_virtual("crampwatch demo")  # before any output: exit 78 without bumble
    out = Path(args.out)
    settings = demo_settings(args, out)
    audio = not args.no_audio and _audio_works()
    wav_dir = None if audio else out / "prompts"
    if not audio:
        log.info("prompts are written as WAV files to %s", wav_dir)
    status = StatusLine()

    def printer(record: EventRecord) -> None:
        if record.kind is EventKind.CRAMP_UPDATE:
            return
        status.clear()
        print(_describe(record), flush=True)

    async def main() -> int:
        virtual = await start_virtual(
            seed=args.seed, hours=args.hours, profile=args.profile, speed=args.speed
        )
        print(
            f"crampwatch demo: a {args.hours:g}-hour {args.profile} night (seed {args.seed}), "
            f"{'as fast as it goes' if args.speed is None else f'{args.speed:g}× real time'}; "
            f"output in {out}/",
            flush=True,
        )
        result = await run_night(
            settings,
            state_dir=out,
            virtual=virtual,
            printer=printer,
            status=status,
            status_every_s=0.5 if status.tty else 5.0,
            wav_dir=wav_dir,
            close_night=write_night_report,
        )
        status.clear()
        if settings.mqtt.enabled:
            await asyncio.to_thread(remove_from_broker, settings)
        events = [
            e.to_json() for e in result.summary.events if e.kind is not EventKind.CRAMP_UPDATE
        ]
        night_score = score_night(virtual.truth, events)
        score = aggregate([night_score])
        summary = {
            **result.summary.as_json(),
            "simulated_cramps": len(virtual.truth.get("cramps", [])),
            "link": {
                w.label: dataclasses.asdict(w.statistics()) for w in result.daemon.workers
            },
        }
        report = await asyncio.to_thread(
            write_night_report,
            out,
            result.summary.as_json(),
            result.daemon.workers[0].recording_path,
            settings=settings.detector,
        )
        summary["report"] = str(report) if report else None
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        print("\nNight summary")
        print(f"  cramps detected: {summary['cramps']}, total {summary['total_cramp_s']} s")
        print(f"  the simulator put in {summary['simulated_cramps']} cramp(s) of 10 s or more")
        print(format_table(score))
        print("\nWhat the score says")  # the table in words, for a newcomer
        print("\n".join(f"  {line}" for line in describe(night_score).splitlines()))
        if report is not None:
            print(f"  night report: {report} (and .html beside it)")
        print(f"  recording, event history and summary in {out}/")
        return 1 if result.link_failed else 0

    return asyncio.run(main())
