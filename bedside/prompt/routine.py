"""The bedtime routine as a timeline of spoken cues: pure, no clock, no I/O.

:func:`routine_plan` turns ``[prompt.routine]`` into :class:`Cue` s, each a phrase key and the
second (since the routine's start) at which it is due. A step that works one leg at a time is done
left then right ("Now the other leg." in between); a stretch is done ``stretch_sets`` times, each
hold counted out one word per second::

    bedtime · routine.calf.left · (setup_s) · routine.hold · count.1 … count.10 ·
        routine.relax · (rest_s) · routine.hold · … · routine.other_leg · routine.calf.right ·
        … · routine.done

Clamshells are counted at ``clamshell_pace_s`` per repetition, without hold/relax lines; the
sleeping-position tip is a single line. How long a line takes to say is estimated from its words
and the speaking rate (:func:`speaking_s`), so the plan does not wait for the WAVs; a line that
runs longer only delays the next one in the player's queue.

Sources for the steps and hold times: ``bedside/config/prompt.py`` (:class:`RoutineSettings`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bedside.config.prompt import PromptSettings, PromptTexts

LEGS = ("left", "right")
PER_LEG = {"calf": True, "hamstring": True, "pigeon": True, "clamshell": True,
           "sleep_position": False}  # fmt: skip
PAUSE_S = 1.0  # silence after a spoken line before the next starts
COUNT_GAP_S = 1.0  # one count word per second: "one" … "ten" for a 10-s hold


@dataclass(frozen=True, slots=True)
class Cue:
    """Say phrase ``key`` at ``at_s`` s after the routine started; ``step`` is done once its
    ``completes_step`` cue has been said (``""``: the opening and closing lines)."""

    at_s: float
    key: str
    step: str
    leg: str | None = None
    completes_step: bool = False


def speaking_s(text: str, speed_wpm: int) -> float:
    """Rough seconds espeak-ng needs for ``text`` at ``speed_wpm`` (+10 %: punctuation pauses)."""
    return 1.1 * len(text.split()) * 60.0 / speed_wpm


def routine_texts(texts: PromptTexts, steps: tuple[str, ...], max_count: int) -> dict[str, str]:
    """Phrase key → text of every line the routine ``steps`` can say (``{leg}`` filled in)."""
    out = {
        "routine.hold": texts.routine_hold,
        "routine.relax": texts.routine_relax,
        "routine.other_leg": texts.routine_other_leg,
        "routine.done": texts.routine_done,
    }
    for step in steps:
        text: str = getattr(texts, f"routine_{step}")
        if PER_LEG[step]:
            out.update({f"routine.{step}.{leg}": text.replace("{leg}", leg) for leg in LEGS})
        else:
            out[f"routine.{step}"] = text
    out.update({f"count.{n}": texts.counts[n - 1] for n in range(1, max_count + 1)})
    return out


def max_count(settings: PromptSettings) -> int:
    """The highest number the routine counts to (0: it counts nothing)."""
    r = settings.routine
    counts = {"calf": r.stretch_hold_s, "hamstring": r.stretch_hold_s,
              "pigeon": r.pigeon_hold_s, "clamshell": r.clamshell_repetitions}  # fmt: skip
    return max((counts.get(step, 0) for step in r.steps), default=0)


def routine_plan(settings: PromptSettings) -> list[Cue]:
    """The whole routine's cues in time order, from ``settings.routine`` and its texts."""
    r = settings.routine
    texts = routine_texts(settings.texts, r.steps, max_count(settings))
    texts["bedtime"] = settings.texts.bedtime
    cues: list[Cue] = []
    t = 0.0

    def say(key: str, step: str, leg: str | None = None, *, last: bool = False) -> float:
        """Append a cue at ``t``; returns the time its line is over."""
        cues.append(Cue(t, key, step, leg, last))
        return t + speaking_s(texts[key], settings.speed_wpm)

    def count(n: int, gap_s: float, step: str, leg: str, *, last: bool) -> float:
        nonlocal t
        for k in range(1, n + 1):
            t += gap_s
            say(f"count.{k}", step, leg, last=last and k == n)
        return t + gap_s

    t = say("bedtime", "") + PAUSE_S
    for step in r.steps:
        if not PER_LEG[step]:
            t = say(f"routine.{step}", step, last=True) + PAUSE_S
            continue
        for leg in LEGS:
            if leg != LEGS[0]:
                t = say("routine.other_leg", step, leg) + PAUSE_S / 2
            t = say(f"routine.{step}.{leg}", step, leg) + r.setup_s
            last_leg = leg == LEGS[-1]
            if step == "clamshell":
                t = count(r.clamshell_repetitions, r.clamshell_pace_s, step, leg, last=last_leg)
                continue
            hold_s = r.pigeon_hold_s if step == "pigeon" else r.stretch_hold_s
            sets = 1 if step == "pigeon" else r.stretch_sets
            for n in range(sets):
                t = say("routine.hold", step, leg)
                t = count(hold_s, COUNT_GAP_S, step, leg, last=last_leg and n == sets - 1)
                t = say("routine.relax", step, leg) + (r.rest_s if n < sets - 1 else PAUSE_S)
    say("routine.done", "")
    return cues
