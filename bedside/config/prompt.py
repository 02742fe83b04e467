"""Settings of the spoken stretch prompt and bedtime reminder (``[prompt]``, ``[prompt.texts]``).

Times of day are local ``"HH:MM"`` strings (empty = off); durations carry ``_s`` in their names.
"""

from __future__ import annotations

import difflib
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


def in_window(t: dtime, start: dtime | None, end: dtime | None) -> bool:
    """Is local time-of-day ``t`` in ``[start, end)``; windows may wrap past midnight."""
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= t < end
    return t >= start or t < end


def state_directory() -> Path:
    """systemd's ``$STATE_DIRECTORY`` (first entry) or ``~/.local/state/crampwatch``."""
    env = os.environ.get("STATE_DIRECTORY", "")
    if env:
        return Path(env.split(":")[0])
    return Path.home() / ".local" / "state" / "crampwatch"


ROUTINE_STEPS = ("calf", "hamstring", "pigeon", "clamshell", "sleep_position")
FAULT_KINDS = (
    "lead_off", "poor_contact", "battery_low", "link_lost", "disk_full", "unsupported_device"
)
TEXTS_NONEMPTY = (
    *(f"routine_{step}" for step in ROUTINE_STEPS),
    "routine_hold", "routine_relax", "routine_other_leg", "routine_done",
    *(f"fault_{kind}" for kind in FAULT_KINDS),
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutineSettings:
    """The bedtime routine (``[prompt.routine]``): which steps, in order, and their timing.

    Holds and sets of calf and hamstring follow Hallegraeff et al., J Physiother 2012;58:17
    (10 s, three times, each leg). The pigeon hold and the clamshell count are common
    physiotherapy practice, not from a trial (physiology.md §7 names the exercises only).
    """

    steps: tuple[str, ...] = field(
        default=("calf",),
        metadata={
            "doc": "Steps in order, from calf, hamstring, pigeon, clamshell, sleep_position;\n"
            'the whole routine: ["calf", "hamstring", "pigeon", "clamshell", "sleep_position"].'
        },
    )
    stretch_hold_s: int = field(
        default=10,
        metadata={"doc": "Seconds each calf and hamstring stretch is held (counted out).",
                  "min": 3, "max": 60},
    )  # fmt: skip
    stretch_sets: int = field(
        default=3,
        metadata={"doc": "Holds per leg of the calf and hamstring stretches.", "min": 1, "max": 10},
    )
    pigeon_hold_s: int = field(
        default=30,
        metadata={"doc": "Seconds the pigeon pose is held on each side.", "min": 5, "max": 60},
    )
    clamshell_repetitions: int = field(
        default=10,
        metadata={"doc": "Clamshells on each side (counted out).", "min": 1, "max": 60},
    )
    clamshell_pace_s: float = field(
        default=3.0,
        metadata={"doc": "Seconds per clamshell (lift and lower).", "min": 1.5, "max": 10.0},
    )
    setup_s: float = field(
        default=10.0,
        metadata={"doc": "Seconds to get into position after a step's instruction.",
                  "min": 2.0, "max": 60.0},
    )  # fmt: skip
    rest_s: float = field(
        default=5.0,
        metadata={"doc": "Seconds of rest between two holds.", "min": 1.0, "max": 60.0},
    )

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("key 'steps': name at least one step")
        for step in self.steps:
            if step not in ROUTINE_STEPS:
                close = difflib.get_close_matches(step, ROUTINE_STEPS, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(
                    f"key 'steps': unknown step {step!r}{hint} (known: {', '.join(ROUTINE_STEPS)})"
                )


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultAlertSettings:
    """Spoken equipment alerts at the bedside (``[prompt.faults]``), for nights without a
    dashboard; after OpenSeizureDetector's fault warning: a fault must last before it is said,
    and it is said once, softly, then not again for a cooldown."""

    enabled: bool = field(
        default=True, metadata={"doc": "Say equipment faults on the bedside speaker."}
    )
    active_from: str = field(
        default="22:00",
        metadata={"doc": 'Local "HH:MM" from which faults are said (the wearable is worn);\n'
                  "the prompt's quiet hours apply within this window too."},
    )  # fmt: skip
    active_until: str = field(
        default="07:00",
        metadata={"doc": 'Local "HH:MM" at which the fault alerts stop for the day.'},
    )
    volume_pct: float = field(
        default=50.0,
        metadata={"doc": "Loudness of a fault alert, % of the rendered WAV.", "min": 5,
                  "max": 100},
    )  # fmt: skip
    lead_off_after_s: float = field(
        default=60.0,  # turning over lasts 3–45 s [IRL21]: longer is not the bed's movement
        metadata={"doc": "Lead-off (electrode or strap off) for this long is said.", "min": 5,
                  "max": 3600},
    )  # fmt: skip
    poor_contact_after_s: float = field(
        default=300.0,
        metadata={"doc": "Contact noise or hum for this long is said.", "min": 10, "max": 7200},
    )
    battery_low_pct: int = field(
        default=15,
        metadata={"doc": "A battery at or below this % is said.", "min": 1, "max": 90},
    )
    link_lost_after_s: float = field(
        default=600.0,
        metadata={"doc": "A wearable not heard for this long (after streaming tonight) is said.",
                  "min": 30, "max": 14400},
    )  # fmt: skip
    disk_free_min_mb: float = field(
        default=200.0,
        metadata={"doc": "Less free space than this (MB) in the state directory is said.",
                  "min": 0, "max": 100_000},
    )  # fmt: skip
    cooldown_s: tuple[float, ...] = field(
        default=(1800.0, 3600.0, 43200.0, 3600.0, 43200.0, 43200.0),
        metadata={
            "doc": "Seconds before the same kind is said again, per kind in the order\n"
            "lead_off, poor_contact, battery_low, link_lost, disk_full, unsupported_device.",
            "min": 0,
            "max": 86400,
        },
    )

    def __post_init__(self) -> None:
        for key in ("active_from", "active_until"):
            parse_hhmm(getattr(self, key), key)
        if len(self.cooldown_s) != len(FAULT_KINDS):
            raise ValueError(
                f"key 'cooldown_s': expected {len(FAULT_KINDS)} values "
                f"({', '.join(FAULT_KINDS)}), got {len(self.cooldown_s)}"
            )

    def cooldown(self, kind: str) -> float:
        """The cooldown in s of fault ``kind`` (one of ``FAULT_KINDS``)."""
        return self.cooldown_s[FAULT_KINDS.index(kind)]


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
        metadata={"doc": "The bedtime reminder's first line, before the routine's steps."},
    )
    routine_calf: str = field(
        default=phrases.ROUTINE_CALF,
        metadata={"doc": "Routine step calf: how to get into the stretch ({leg} = left/right)."},
    )
    routine_hamstring: str = field(
        default=phrases.ROUTINE_HAMSTRING,
        metadata={"doc": "Routine step hamstring ({leg} = left/right)."},
    )
    routine_pigeon: str = field(
        default=phrases.ROUTINE_PIGEON,
        metadata={"doc": "Routine step pigeon (pigeon pose; {leg} = left/right)."},
    )
    routine_clamshell: str = field(
        default=phrases.ROUTINE_CLAMSHELL,
        metadata={"doc": "Routine step clamshell ({leg} = the leg on top)."},
    )
    routine_sleep_position: str = field(
        default=phrases.ROUTINE_SLEEP_POSITION,
        metadata={"doc": "Routine step sleep_position: the sleeping-position tip (said once)."},
    )
    routine_hold: str = field(
        default=phrases.ROUTINE_HOLD, metadata={"doc": "Said as each hold begins."}
    )
    routine_relax: str = field(
        default=phrases.ROUTINE_RELAX, metadata={"doc": "Said as each hold ends."}
    )
    routine_other_leg: str = field(
        default=phrases.ROUTINE_OTHER_LEG,
        metadata={"doc": "Said before a step's second leg (with its instruction)."},
    )
    routine_done: str = field(
        default=phrases.ROUTINE_DONE, metadata={"doc": "Said when the routine is over."}
    )
    counts: tuple[str, ...] = field(
        default=phrases.COUNT_WORDS,
        metadata={"doc": "The words for 1, 2, 3, … used to count holds and repetitions out."},
    )
    bedtime_thanks: str = field(
        default=phrases.BEDTIME_THANKS,
        metadata={"doc": 'Said when the user confirms the bedtime stretch is done ("" = nothing).'},
    )

    fault_lead_off: str = field(
        default=phrases.FAULT_LEAD_OFF,
        metadata={"doc": "Fault alert: electrode or strap off ({sensor} = which sensor)."},
    )
    fault_poor_contact: str = field(
        default=phrases.FAULT_POOR_CONTACT,
        metadata={"doc": "Fault alert: contact noise or hum for a long time."},
    )
    fault_battery_low: str = field(
        default=phrases.FAULT_BATTERY_LOW, metadata={"doc": "Fault alert: battery low."}
    )
    fault_link_lost: str = field(
        default=phrases.FAULT_LINK_LOST,
        metadata={"doc": "Fault alert: the wearable has been out of reach for a while."},
    )
    fault_disk_full: str = field(
        default=phrases.FAULT_DISK_FULL,
        metadata={"doc": "Fault alert: the state directory's disk is almost full."},
    )
    fault_unsupported_device: str = field(
        default=phrases.FAULT_UNSUPPORTED_DEVICE,
        metadata={"doc": "Fault alert: a wearable announced rates or channels crampwatch "
                         "refuses (it retries later)."},
    )

    def __post_init__(self) -> None:
        for name in ("opening", "closing", "repeat_short", "bedtime", *TEXTS_NONEMPTY):
            if not getattr(self, name).strip():
                raise ValueError(f"key '{name}': the text must not be empty")
        for name in ("hold", "escalation", "counts"):
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
        metadata={
            "doc": 'Local "HH:MM" from which cramp prompts and fault alerts are not spoken\n'
            '("" = never).'
        },
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
        metadata={"doc": 'Local "HH:MM" of the bedtime reminder and routine ("" = off).'},
    )
    reminder_speak: bool = field(
        default=True,
        metadata={"doc": "Speak the bedtime reminder (it is published on MQTT either way)."},
    )
    adherence_log: str = field(
        default="",
        metadata={
            "doc": 'JSONL log of reminders, routine steps and "done" confirmations;\n'
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
    routine: RoutineSettings = field(
        default_factory=RoutineSettings,
        metadata={"doc": "The bedtime routine (section [prompt.routine])."},
    )
    faults: FaultAlertSettings = field(
        default_factory=FaultAlertSettings,
        metadata={"doc": "Spoken fault alerts (section [prompt.faults])."},
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
        r = self.routine
        highest = max(r.stretch_hold_s, r.pigeon_hold_s, r.clamshell_repetitions)
        if len(self.texts.counts) < highest:
            raise ValueError(
                f"[prompt.texts] counts has {len(self.texts.counts)} words, but the routine "
                f"counts to {highest}"
            )

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
