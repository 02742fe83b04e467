"""Cramp families: each draws every uncertain parameter of one kind of cramp over its range.

A family is what a benchmark reports a row for (issue 15, "Cramps the sleeper moves through"):

* ``classic``: the earlier mixed draw (any level, any length, maybe a build-up or fasciculation,
  maybe walked off late in the cramp);
* ``short_moving``: 10–30 s, the waking movement from 1.5 s after the full onset;
* ``moving_through``: a posture change, standing or walking *within* the cramp;
* ``weak`` (2–3× rest) and ``strong`` (5–9× rest [CS]);
* ``build_up`` and ``build_up_fasciculation``: a slow 20–70 s rise [CS], without / with a
  fasciculation prelude [JAT21].

``short`` draws the < 10-s cramps that the scorer treats as neutral. :func:`draw_cramp` returns a
:class:`CrampDraw` in seconds *relative to the cramp* (durations, delays); ``schedule`` places
it in the night and writes the truth. Source keys are those of ``shared/notes/physiology.md``.
Pure numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FAMILIES = (
    "classic",
    "short_moving",
    "moving_through",
    "weak",
    "strong",
    "build_up",
    "build_up_fasciculation",
)
SHORT_FAMILY = "short"  # < 10 s: listed apart, neutral for the scorer (contracts.md)

CRAMP_MAX_S = 600.0  # [Hal17, NHS]: seconds to 10 min
CRAMP_MEDIAN_S = 150.0  # [BMJ] mean 8–9 min but shape unconfirmed: log-normal, median 2.5 min
CRAMP_PCT = (100.0, 800.0)  # [CS]: 100–500 % (tension), spikes 200–800 % over baseline
CRAMP_PCT_MEDIAN = 217.0  # [CS]: rose 217 % on average
WEAK_LEVEL = (2.0, 3.0)  # issue 15: weak cramps 2–3× rest ([CS] lower end: +100 %)
STRONG_LEVEL = (5.0, 9.0)  # issue 15 / [CS]: up to +800 % over baseline = 9× rest
BUILD_UP_S = (41.0, 11.0)  # [CS]: motionless rise for 41 ± 11 s before waking
BUILD_UP_RANGE_S = (20.0, 70.0)  # issue 15: "a slow 20–70 s rise"
# The slow rise ends at (or a little under) half the plateau: issue 15 dates the full onset at
# "the end of a slow 20–70 s rise"; the quick rise that follows crosses the half point.
BUILD_UP_FRACTION = (0.3, 0.5)
FASCICULATION_S = (20.0, 120.0)  # [JAT21]: a "pre-cramping" state; its length unconfirmed
# physiology.md §6 "Waking movement": the pain wakes the sleeper, who moves seconds after the
# full onset; issue 15: "waking movement from 1.5 s after onset".
WAKE_AFTER_ONSET_S = (1.5, 10.0)
SHORT_MOVING_S = (10.0, 30.0)  # issue 15: short cramps 10–30 s
MOVING_THROUGH_S = (30.0, 240.0)  # long enough to stand up or walk inside it (model choice)
WITHIN_CRAMP_MOVES = ("turn", "sit_stand", "walk")  # issue 15: posture change, standing, walking


@dataclass(frozen=True, slots=True, kw_only=True)
class CrampDraw:
    """One cramp's parameters, seconds relative to the cramp; levels are total/rest RMS ratios.

    ``duration_s`` is the truth's ``end_s − onset_s`` (full onset to the residual band).
    ``build_up_s`` 0 means a quick rise only (``rise_s``); otherwise the slow rise reaches
    ``build_up_fraction`` of the plateau excess with exponent ``build_up_power``, then ``rise_s``
    completes it. ``fasciculation_s`` > 0: a prelude of that length before the rise begins.
    ``wake_delay_s`` after the full onset (None: sleeps through it). ``stretch``: the sleeper
    stretches the calf (a surge [RT95]); ``move``: one of :data:`WITHIN_CRAMP_MOVES` inside the
    cramp or None; ``walk_off``: gets up late in the cramp and walks it off [NHS]. ``decay_s``:
    the fall from the plateau to the residual.
    """

    family: str
    duration_s: float
    level: float
    rise_s: float
    wake_delay_s: float | None
    stretch: bool
    decay_s: float
    build_up_s: float = 0.0
    build_up_fraction: float = 0.5
    build_up_power: float = 1.0
    fasciculation_s: float = 0.0
    move: str | None = None
    walk_off: bool = False

    @property
    def onset_after_start_s(self) -> float:
        """Seconds from the start of the EMG rise to the full onset (half the plateau excess)."""
        b = self.build_up_fraction if self.build_up_s > 0 else 0.0
        return self.build_up_s + self.rise_s * max(0.0, 0.5 - b) / (1.0 - b)

    @property
    def plateau_after_start_s(self) -> float:
        return self.build_up_s + self.rise_s


def classic_level(rng: np.random.Generator) -> float:
    """[CS]: log-normal around +217 %, clipped to +100..+800 %: some weak ones near 2×."""
    pct = float(np.clip(rng.lognormal(math.log(CRAMP_PCT_MEDIAN), 0.5), *CRAMP_PCT))
    return 1.0 + pct / 100.0


def _long_duration(rng: np.random.Generator, lo: float = 10.0) -> float:
    return float(np.clip(rng.lognormal(math.log(CRAMP_MEDIAN_S), 0.9), lo, CRAMP_MAX_S))


def _build_up_s(rng: np.random.Generator) -> float:
    return float(np.clip(rng.normal(*BUILD_UP_S), *BUILD_UP_RANGE_S))


def draw_cramp(rng: np.random.Generator, family: str) -> CrampDraw:
    """Draw one cramp of ``family`` (one of :data:`FAMILIES` or ``"short"``)."""
    u = rng.uniform
    if family == SHORT_FAMILY:
        return CrampDraw(
            family=family, duration_s=float(u(2.0, 9.5)), level=classic_level(rng),
            rise_s=float(u(0.3, 1.5)), wake_delay_s=None, stretch=False,
            decay_s=float(u(0.5, 2.0)),
        )  # fmt: skip
    if family == "short_moving":
        d = float(u(*SHORT_MOVING_S))
        stretch = bool(rng.random() < 0.5)
        return CrampDraw(
            family=family, duration_s=d, level=classic_level(rng),
            rise_s=float(u(0.3, 2.0)),
            wake_delay_s=float(u(WAKE_AFTER_ONSET_S[0], min(WAKE_AFTER_ONSET_S[1], 0.6 * d))),
            stretch=stretch, move=None if stretch else str(rng.choice(("turn", "sit_stand"))),
            decay_s=float(u(1.0, 4.0)),
        )  # fmt: skip
    if family == "moving_through":
        return CrampDraw(
            family=family, duration_s=float(u(*MOVING_THROUGH_S)), level=classic_level(rng),
            rise_s=float(u(0.5, 4.0)),
            wake_delay_s=float(u(1.5, 8.0)), stretch=False,
            move=str(rng.choice(WITHIN_CRAMP_MOVES)), decay_s=float(u(2.0, 12.0)),
        )  # fmt: skip
    if family in ("build_up", "build_up_fasciculation"):
        return CrampDraw(
            family=family, duration_s=_long_duration(rng, 20.0), level=classic_level(rng),
            build_up_s=_build_up_s(rng), build_up_fraction=float(u(*BUILD_UP_FRACTION)),
            build_up_power=float(u(1.0, 2.0)), rise_s=float(u(1.0, 4.0)),
            fasciculation_s=float(u(*FASCICULATION_S)) if family != "build_up" else 0.0,
            wake_delay_s=float(u(1.5, 6.0)), stretch=True,
            walk_off=bool(rng.random() < 0.3), decay_s=float(u(3.0, 20.0)),
        )  # fmt: skip
    if family in ("weak", "strong"):
        level = float(u(*(WEAK_LEVEL if family == "weak" else STRONG_LEVEL)))
        d = _long_duration(rng)
        wake = d >= 15.0 and rng.random() < 0.9
        return CrampDraw(
            family=family, duration_s=d, level=level, rise_s=float(u(0.5, 4.0)),
            wake_delay_s=float(u(*WAKE_AFTER_ONSET_S)) if wake else None,
            stretch=wake, decay_s=float(u(3.0, 20.0)),
        )  # fmt: skip
    if family != "classic":
        raise ValueError(f"unknown cramp family {family!r}; expected one of {FAMILIES}")
    d = _long_duration(rng)
    wake = d >= 20.0 and rng.random() < 0.9
    build_up = wake and d >= 100.0 and rng.random() < 0.6
    return CrampDraw(
        family=family, duration_s=d, level=classic_level(rng),
        build_up_s=_build_up_s(rng) if build_up else 0.0,
        build_up_fraction=float(u(*BUILD_UP_FRACTION)), build_up_power=float(u(1.0, 2.0)),
        rise_s=float(u(0.5, 4.0)),
        fasciculation_s=float(u(*FASCICULATION_S)) if rng.random() < 0.35 else 0.0,
        wake_delay_s=float(u(*WAKE_AFTER_ONSET_S)) if wake else None, stretch=wake,
        walk_off=wake and d >= 60.0 and bool(rng.random() < 0.35), decay_s=float(u(3.0, 20.0)),
    )  # fmt: skip
