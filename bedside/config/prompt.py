"""Settings of the spoken stretch prompt and bedtime reminder (``[prompt]``, ``[prompt.texts]``).

Times of day are local ``"HH:MM"`` strings (empty = off); durations carry ``_s`` in their names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import time as dtime
from pathlib import Path
from typing import Literal

from bedside.config import phrases


def parse_hhmm(value: str, key: str) -> dtime | None:
    """``"21:30"`` → ``time(21, 30)``; ``""`` → ``None``; anything else raises ``ValueError``."""
    if value == "":
        return None
    hours, sep, minutes = value.partition(":")
    if (
        sep != ":"
        or len(minutes) != 2
        or not hours.isdigit()
        or not minutes.isdigit()
        or not (0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59)
    ):
        raise ValueError(f'key \'{key}\': expected a local time "HH:MM" (or ""), got {value!r}')
    return dtime(int(hours), int(minutes))


def state_directory() -> Path:
    """systemd's ``$STATE_DIRECTORY`` (first entry) or ``~/.local/state/crampwatch``."""
    env = os.environ.get("STATE_DIRECTORY", "")
    if env:
        return Path(env.split(":")[0])
    return Path.home() / ".local" / "state" / "crampwatch"


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptTexts:
    """What is said; every phrase is rendered once to the WAV cache."""

    opening: str = field(
        default=phrases.OPENING,
        metadata={"doc": "First words when a cramp starts (keep it short: it must start in 1 s)."},
    )
    hold: tuple[str, ...] = field(
        default=phrases.HOLD,
        metadata={
            "doc": "Guided hold, spoken in turn every hold_interval_s while the cramp lasts."
        },
    )
    escalation: tuple[str, ...] = field(
        default=phrases.ESCALATION,
        metadata={
            "doc": "Next suggestions, one every escalation_interval_s after escalation_after_s."
        },
    )
    closing: str = field(
        default=phrases.CLOSING,
        metadata={"doc": "Said once when the cramp has ended (if closing_line is true)."},
    )
    repeat_short: str = field(
        default=phrases.REPEAT_SHORT,
        metadata={"doc": "The only line for a new cramp within cooldown_s of the previous one."},
    )
    bedtime: str = field(
        default=phrases.BEDTIME,
        metadata={"doc": "The bedtime stretching reminder (spoken at reminder_time)."},
    )
    bedtime_thanks: str = field(
        default=phrases.BEDTIME_THANKS,
        metadata={"doc": 'Said when the user confirms the bedtime stretch is done ("" = nothing).'},
    )

    def __post_init__(self) -> None:
        for name in ("opening", "closing", "repeat_short", "bedtime"):
            if not getattr(self, name).strip():
                raise ValueError(f"key '{name}': the text must not be empty")
        for name in ("hold", "escalation"):
            if any(not text.strip() for text in getattr(self, name)):
                raise ValueError(f"key '{name}': no text in the list may be empty")


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptSettings:
    backend: Literal["espeak", "chime", "none"] = field(
        default="espeak",
        metadata={
            "doc": "How prompts sound: espeak = spoken (espeak-ng rendered to a WAV cache),\n"
            "chime = a sound file only, none = no prompt at all."
        },
    )
    output: Literal["aplay", "command", "wav_dir"] = field(
        default="aplay",
        metadata={
            "doc": "Where the WAVs go: aplay (ALSA, from a system service), command (run\n"
            "`command` per phrase), wav_dir (write numbered WAV files into `wav_dir`)."
        },
    )
    audio_device: str = field(
        default="default",
        metadata={"doc": "ALSA device for aplay -D (list them with `aplay -L`)."},
    )
    command: tuple[str, ...] = field(
        default=(),
        metadata={
            "doc": "Command hook (output = command): argv with {wav}, {text}, {key}, {device}\n"
            'replaced, e.g. ["pw-play", "{wav}"]. It is killed when it overruns.'
        },
    )
    wav_dir: str = field(
        default="",
        metadata={"doc": "Directory the wav_dir output writes NNN-key.wav files into."},
    )
    cache_dir: str = field(
        default="",
        metadata={"doc": "WAV cache; empty = $STATE_DIRECTORY/prompt-cache (or ~/.local/state)."},
    )
    voice: str = field(
        default="en-us",
        metadata={
            "doc": "espeak-ng voice / language (en-us, en-gb, de, fr, …: espeak-ng --voices)."
        },
    )
    voice_variant: str = field(
        default="",
        metadata={
            "doc": 'Optional espeak-ng voice variant, e.g. f3 or m2 ("" = the voice\'s own).'
        },
    )
    speed_wpm: int = field(
        default=140,  # slower than espeak-ng's 175: a half-asleep listener (ecosystem note §6)
        metadata={
            "doc": "Speaking rate in words per minute (espeak-ng -s).",
            "min": 80,
            "max": 450,
        },
    )
    pitch: int = field(
        default=40,
        metadata={"doc": "Voice pitch (espeak-ng -p; 50 is its default).", "min": 0, "max": 99},
    )
    amplitude: int = field(
        default=150,  # ecosystem note §6: -a 150 is clearly audible from a small speaker
        metadata={"doc": "Rendering amplitude (espeak-ng -a).", "min": 10, "max": 200},
    )
    chime: bool = field(
        default=True,
        metadata={"doc": "A soft chime (0.25 s) before the first line of each sequence."},
    )
    chime_file: str = field(
        default="",
        metadata={
            "doc": 'WAV file to use as the chime instead of the built-in one ("" = built-in).'
        },
    )
    volume_start_pct: float = field(
        default=40.0,
        metadata={
            "doc": "Loudness of the first line of a sequence, % of full.",
            "min": 5,
            "max": 100,
        },
    )
    volume_full_pct: float = field(
        default=100.0,
        metadata={
            "doc": "Loudness reached after volume_ramp_s, % of the rendered WAV.",
            "min": 5,
            "max": 100,
        },
    )
    volume_ramp_s: float = field(
        default=20.0,
        metadata={
            "doc": "Seconds over which the loudness rises from start to full.",
            "min": 0,
            "max": 600,
        },
    )
    hold_interval_s: float = field(
        default=14.0,
        metadata={
            "doc": "Seconds between guided-hold lines while the cramp lasts.",
            "min": 3,
            "max": 300,
        },
    )
    escalation_after_s: float = field(
        default=60.0,
        metadata={
            "doc": "If the cramp still lasts this long, move on to the next suggestions.",
            "min": 5,
            "max": 3600,
        },
    )
    escalation_interval_s: float = field(
        default=30.0,
        metadata={"doc": "Seconds between the escalation suggestions.", "min": 3, "max": 600},
    )
    max_sequence_s: float = field(
        default=300.0,
        metadata={
            "doc": "Stop talking after this long even if the cramp goes on.",
            "min": 10,
            "max": 7200,
        },
    )
    closing_line: bool = field(
        default=True,
        metadata={"doc": "Say the closing line when the cramp has ended."},
    )
    dip_grace_s: float = field(
        default=8.0,
        metadata={
            "doc": "A cramp that ends and starts again within this time continues the\n"
            "same sequence (the closing line waits this long).",
            "min": 0,
            "max": 300,
        },
    )
    cooldown_s: float = field(
        default=900.0,
        metadata={
            "doc": "A new cramp within this time after a sequence gets repeat_short only.",
            "min": 0,
            "max": 86400,
        },
    )
    max_sequences_per_hour: int = field(
        default=4,
        metadata={
            "doc": "Rate limit: sequences (incl. short reminders) started per rolling hour;\n"
            "further cramps are counted, not spoken.",
            "min": 1,
            "max": 120,
        },
    )
    quiet_hours_start: str = field(
        default="",
        metadata={"doc": 'Local "HH:MM" from which cramp prompts are not spoken ("" = never).'},
    )
    quiet_hours_end: str = field(
        default="",
        metadata={"doc": 'Local "HH:MM" at which quiet hours end (may be past midnight).'},
    )
    silence_night_until: str = field(
        default="09:00",
        metadata={"doc": 'A silence for the night lasts until this local "HH:MM".'},
    )
    player_timeout_margin_s: float = field(
        default=5.0,
        metadata={
            "doc": "A player still running this long after the phrase's length is killed.",
            "min": 0.2,
            "max": 600,
        },
    )
    stale_after_s: float = field(
        default=10.0,
        metadata={
            "doc": "A line that could not start within this time of being due is dropped.",
            "min": 0.5,
            "max": 600,
        },
    )
    command_max_age_s: float = field(
        default=30.0,
        metadata={
            "doc": "Silence / done commands older than this (by their time stamp) are\n"
            "rejected as stale (e.g. queued by a broker while we were away).",
            "min": 1,
            "max": 86400,
        },
    )
    reminder_time: str = field(
        default="21:30",
        metadata={"doc": 'Local "HH:MM" of the bedtime stretching reminder ("" = off).'},
    )
    reminder_speak: bool = field(
        default=True,
        metadata={"doc": "Speak the bedtime reminder (it is published on MQTT either way)."},
    )
    adherence_log: str = field(
        default="",
        metadata={
            "doc": 'JSONL log of reminders and "done" confirmations;\n'
            "empty = $STATE_DIRECTORY/adherence.jsonl (or ~/.local/state)."
        },
    )
    gpio_led_pin: int = field(
        default=0,
        metadata={
            "doc": "BCM pin of an LED that blinks with every prompt line (0 = none; needs\n"
            "gpiozero >= 2 and /dev/gpiochip*).",
            "min": 0,
            "max": 27,
        },
    )
    gpio_buzzer_pin: int = field(
        default=0,
        metadata={
            "doc": "BCM pin of a buzzer that beeps twice before the first line of a sequence\n"
            "(0 = none).",
            "min": 0,
            "max": 27,
        },
    )
    texts: PromptTexts = field(
        default_factory=PromptTexts,
        metadata={"doc": "What is said (section [prompt.texts])."},
    )

    def __post_init__(self) -> None:
        for key in ("quiet_hours_start", "quiet_hours_end", "silence_night_until", "reminder_time"):
            parse_hhmm(getattr(self, key), key)
        if (self.quiet_hours_start == "") != (self.quiet_hours_end == ""):
            raise ValueError("quiet_hours_start and quiet_hours_end must be set together")
        if self.volume_start_pct > self.volume_full_pct:
            raise ValueError("volume_start_pct must not exceed volume_full_pct")
        if self.output == "command" and self.backend != "none" and not self.command:
            raise ValueError('output = "command" needs a `command` (argv list)')
        if self.output == "wav_dir" and self.backend != "none" and not self.wav_dir:
            raise ValueError('output = "wav_dir" needs a `wav_dir` directory')

    def cache_path(self) -> Path:
        """The WAV cache directory (``cache_dir`` or the state directory's ``prompt-cache``)."""
        return Path(self.cache_dir) if self.cache_dir else state_directory() / "prompt-cache"

    def adherence_path(self) -> Path:
        """The adherence log file (``adherence_log`` or the state directory's one)."""
        return (
            Path(self.adherence_log)
            if self.adherence_log
            else state_directory() / "adherence.jsonl"
        )
