"""``crampwatch prompt``: check the bedside speaker, pre-render phrases, log the bedtime stretch.

::

    crampwatch prompt test [--to-wav DIR]   # the whole cramp sequence once (or as numbered WAVs)
    crampwatch prompt routine [--to-wav DIR] [--steps calf,hamstring,…]  # the bedtime routine now
    crampwatch prompt render                # render every phrase into the WAV cache (install step)
    crampwatch prompt done                  # "I did my bedtime stretch" for tonight
    crampwatch prompt adherence [--json]    # stretching nights over the last --nights nights
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import signal
import sys
import time
from pathlib import Path

from bedside.config.prompt import ROUTINE_STEPS, PromptSettings
from bedside.config.settings import (
    CONFIG_HELP,
    adherence_file,
    load_settings,
    pid_file,
    state_dir_for,
)
from bedside.prompt.engine import rehearsal
from bedside.prompt.player import build_player
from bedside.prompt.reminder import AdherenceLog, BedtimeReminder
from bedside.prompt.routine import routine_plan
from bedside.prompt.speech import render_phrases, with_gain
from firmware_bridge.errors import PromptError

HELP = "test the stretch prompt (play or --to-wav), pre-render it, log the bedtime stretch"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help=CONFIG_HELP)
    common.add_argument("--cache", metavar="DIR", help="WAV cache directory (default: from config)")
    common.add_argument(
        "--state-dir",
        metavar="DIR",
        help="the daemon's state directory (default: $STATE_DIRECTORY or [daemon] state_dir)",
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    test = sub.add_parser(
        "test", parents=[common], help="play the whole cramp sequence once (or write it)"
    )
    test.add_argument("--to-wav", metavar="DIR", help="write NNN-key.wav files instead of playing")
    test.add_argument(
        "--cramp-s",
        type=float,
        metavar="S",
        help="length of the rehearsed cramp in s (default: long enough for every line)",
    )
    routine = sub.add_parser(
        "routine", parents=[common], help="guide the bedtime routine now (or write it as WAVs)"
    )
    routine.add_argument(
        "--to-wav", metavar="DIR", help="write NNN-key.wav files instead of playing"
    )
    routine.add_argument(
        "--steps",
        metavar="LIST",
        help="comma-separated steps (default: [prompt.routine] steps) from "
        + ", ".join(ROUTINE_STEPS),
    )
    sub.add_parser("render", parents=[common], help="render every phrase into the WAV cache")
    sub.add_parser("done", parents=[common], help="log tonight's bedtime stretch as done")
    adherence = sub.add_parser(
        "adherence", parents=[common], help="bedtime-stretch adherence summary"
    )
    adherence.add_argument("--nights", type=int, default=14, help="nights to summarise")
    silence = sub.add_parser(
        "silence", parents=[common], help="silence the running daemon's prompt (this cramp)"
    )
    silence.add_argument("--night", action="store_true", help="for the rest of the night")
    adherence.add_argument("--json", action="store_true", help="print JSON")


def _settings(args: argparse.Namespace) -> PromptSettings:
    settings = load_settings(args.config).prompt
    if args.cache:
        settings = dataclasses.replace(settings, cache_dir=args.cache)
    return settings


async def _test(settings: PromptSettings, to_wav: Path | None, cramp_s: float | None) -> int:
    if to_wav is not None and settings.backend == "none":
        settings = dataclasses.replace(settings, backend="espeak")
    if settings.backend == "none" and to_wav is None:
        print("prompt.backend is none: nothing to play (use --to-wav DIR to hear the texts)")
        return 0
    started = time.monotonic()
    clips = await asyncio.to_thread(render_phrases, settings)
    print(f"{len(clips)} phrases ready in {time.monotonic() - started:.2f} s")
    player = build_player(settings, wav_dir=to_wav)
    for utterance in rehearsal(settings, cramp_s=cramp_s):
        clip = with_gain(clips[utterance.key], utterance.gain_pct)
        print(
            f"{utterance.due:6.1f} s  {utterance.key:<13} {utterance.gain_pct:3.0f} %  {clip.text}"
        )
        await player.play(clip, timeout_s=clip.duration_s + settings.player_timeout_margin_s)
    if to_wav is not None:
        print(f"wrote the sequence to {to_wav}")
    return 0


async def _routine(settings: PromptSettings, to_wav: Path | None) -> int:
    """Say the routine on its timeline (``--to-wav``: write it at once, without the pauses)."""
    if to_wav is not None and settings.backend == "none":
        settings = dataclasses.replace(settings, backend="espeak")
    if settings.backend == "none" and to_wav is None:
        print("prompt.backend is none: nothing to play (use --to-wav DIR to hear the texts)")
        return 0
    clips = await asyncio.to_thread(render_phrases, settings)
    player = build_player(settings, wav_dir=to_wav)
    plan = routine_plan(settings)
    print(f"routine {' → '.join(settings.routine.steps)}: {len(plan)} lines, "
          f"{plan[-1].at_s / 60:.1f} min")  # fmt: skip
    started = time.monotonic()
    for cue in plan:
        if to_wav is None:
            await asyncio.sleep(max(0.0, cue.at_s - (time.monotonic() - started)))
        clip = clips[cue.key]
        print(f"{cue.at_s:6.1f} s  {cue.key:<22} {clip.text}")
        await player.play(clip, timeout_s=clip.duration_s + settings.player_timeout_margin_s)
    if to_wav is not None:
        print(f"wrote the routine to {to_wav}")
    return 0


def _silence(state_dir: Path, *, night: bool) -> int:
    """Signal the running daemon (SIGUSR1: this cramp, SIGUSR2: the night) via its PID file."""
    path = pid_file(state_dir)
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, signal.SIGUSR2 if night else signal.SIGUSR1)
    except FileNotFoundError:
        print(f"crampwatch prompt silence: no running daemon ({path} not found)", file=sys.stderr)
        return 1
    except (ValueError, ProcessLookupError):
        print(f"crampwatch prompt silence: {path} names no running daemon", file=sys.stderr)
        return 1
    except PermissionError:
        print(
            f"crampwatch prompt silence: not allowed to signal PID {pid} (run as its user)",
            file=sys.stderr,
        )
        return 1
    print(f"silenced the prompt for {'the night' if night else 'this cramp'} (PID {pid})")
    return 0


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.action == "test":
        if args.cramp_s is not None and not 0.0 <= args.cramp_s <= 7200.0:
            print("crampwatch prompt test: --cramp-s must be within 0–7200 s", file=sys.stderr)
            return 2
        return asyncio.run(
            _test(settings, Path(args.to_wav) if args.to_wav else None, args.cramp_s)
        )
    if args.action == "routine":
        if args.steps:
            steps = tuple(s.strip() for s in args.steps.split(",") if s.strip())
            try:
                routine = dataclasses.replace(settings.routine, steps=steps)
            except ValueError as exc:
                print(f"crampwatch prompt routine: --steps: {exc}", file=sys.stderr)
                return 2
            settings = dataclasses.replace(settings, routine=routine)
        return asyncio.run(_routine(settings, Path(args.to_wav) if args.to_wav else None))
    if args.action == "render":
        clips = render_phrases(settings)
        seconds = sum(c.duration_s for c in clips.values())
        print(f"{len(clips)} phrases ({seconds:.1f} s of audio) in {settings.cache_path()}")
        return 0
    everything = load_settings(args.config)
    state_dir = state_dir_for(everything, args.state_dir)
    if args.action == "silence":
        return _silence(state_dir, night=args.night)
    adherence_path = adherence_file(everything, state_dir)
    reminder = BedtimeReminder(settings, AdherenceLog(adherence_path))
    if args.action == "done":
        reminder.confirm_done()
        night = reminder.summary(nights=1).per_night[-1]
        if night.done_at is None:
            raise PromptError(f"could not log the stretch in {adherence_path}")
        print(f"bedtime stretch logged for the night of {night.night}")
        return 0
    summary = reminder.summary(nights=args.nights)
    if args.json:
        json.dump(summary.as_dict(), sys.stdout, indent=1)
        print()
        return 0
    print(
        f"stretched {summary.stretched} of the last {summary.nights} nights "
        f"({100 * summary.adherence:.0f} %), reminded {summary.reminded}, "
        f"streak {summary.streak}"
    )
    for night in summary.per_night:
        mark = "stretched" if night.stretched else "-"
        print(f"  {night.night}  {mark}")
    return 0
