"""What happens when: cramps, confounders and bad signal laid out over a night.

:func:`build_schedule` draws the episodes of one night (see ``episodes.Episode``), the shank
posture keyframes and the truth entries. Cramps never overlap each other; movement confounders
(turns, stretches, toilet trips, PLM series) keep clear of cramps and of each other; bad signal
keeps clear of cramps. Rates per hour come from the profile. Pure numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from firmware_bridge.simulation.episodes import GAIT_BURST_PEAK_UV, STRIDE_S, Episode
from firmware_bridge.simulation.families import FAMILIES, SHORT_FAMILY, draw_cramp
from firmware_bridge.simulation.subject import Subject

EDGE_S = 5.0  # keep episodes this far from the night's ends
SHORT_CRAMP_S = 10.0  # contract: required cramps last ≥ 10 s; shorter ones are listed apart
RESIDUAL = (1.5, 2.0)  # [CS]: ~2× baseline afterwards; issue 15: about 2× rest at most
# issue 15 / physiology.md §6 "Residual" (a modelling decision): the residual's excess over rest
# is at most 40 % of the plateau excess of the cramp that caused it.
RESIDUAL_SHARE = 0.4
# The truth end_s is where the decay has covered all but this share of its fall from the plateau
# to the residual: the residual band (issue 15 decision 3). The decay is linear, so the band is
# reached at 90 % of it and the episode goes on at the residual's level.
END_BAND = 0.1
SURGE_GAIN = (1.5, 3.0)  # [RT95]: forcible stretch raises activity; size **unconfirmed**
# The waking movement (grabbing the calf, shifting, sitting up: physiology.md §6 "Waking
# movement") is at least as vigorous as turning over (EMG rise and artefact [IRL21]; the turn
# confounder's ranges), and may be more: size unconfirmed, so swept wide.
WAKE_MOVE_S = (1.5, 6.0)
WAKE_VOLUNTARY_UV = (5.0, 80.0)  # voluntary calf EMG, × the subject's amplitude scale
WAKE_ARTIFACT_UV = (20.0, 300.0)  # motion artefact < ~20 Hz [DL10, vB01]
WAKE_ACCEL_G = (0.05, 0.5)
TURN_IN_CRAMP_S = (3.0, 15.0)  # [IRL21] posture change 3–45 s; in pain, the shorter end (model)
STAND_IN_CRAMP_S = (15.0, 90.0)  # standing on the cramped leg relieves it [NHS]; length unconfirmed
WALK_IN_CRAMP_S = (30.0, 150.0)  # walking relieves it [NHS]; length unconfirmed
PLM_LM_S = (0.5, 10.0)  # [PLMt]: LM duration 0.5–10 s; mean 3.2 s [Fer15]
PLM_MEAN_S = 3.2  # [Fer15]
PLM_INTERVAL_S = (5.0, 90.0)  # [PLMt]: onset-to-onset 5–90 s; typical 20–40 s [JHM]
PLM_MIN_SERIES = 4  # [PLMt]: ≥ 4 consecutive LMs
PLM_ONSET_UV = 8.0  # [PLMt]: LM onset ≥ 8 µV above resting EMG
PLM_ACCEL_SEEN = 0.67  # [Toe]: an ankle actigraph caught 67 % of LMs
TURN_S = (3.0, 45.0)  # [IRL21]: posture change 3–45 s
TURNS_PER_H = 2.1  # [DK92]: 2.1 shifts/h at 65–80 y
SIDE_ROLL_DEG = 90.0  # §2: back → side ≈ 90° about the shank axis
SITTING_ELEV_DEG = 85.0  # §3: sitting on the bed edge ≈ 1 g along the shank (0.97 g walking)
SORENESS_TAU_S = (300.0, 1200.0)  # [NHS]: soreness for hours; decays (model: minutes, bounded)


# Every profile draws each required cramp from a family: the earlier mixed draw ("classic") most
# often, each of the six issue-15 families a tenth of the time. The "families" profile draws only
# those six, evenly, on typical confounders: the family-mix held-out set.
MIXED_FAMILIES = (0.4, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1)
EVEN_NEW_FAMILIES = (0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)


@dataclass(frozen=True, slots=True)
class Profile:
    """Expected counts per 8-h night (scaled by hours) and probabilities."""

    cramps_per_8h: tuple[float, ...]  # weights for 0, 1, 2, ... required cramps
    short_cramps_per_8h: float
    plm_series_p: float  # probability the subject has PLMs at all
    plm_series_per_8h: float
    turns_per_h: float
    stretches_per_8h: float
    toilet_trips_per_8h: float
    motion_per_8h: float
    lead_off_per_8h: float
    hum_bad_per_8h: float
    drift_per_8h: float
    hum_change_per_8h: float
    wander_per_8h: float
    long_bad_p: float  # a long stretch (20–60 min) of bad signal
    family_weights: tuple[float, ...] = MIXED_FAMILIES  # per ``families.FAMILIES``, same order


TYPICAL = Profile(
    cramps_per_8h=(0.3, 0.35, 0.2, 0.15),  # "0–3 cramps"; several per night possible [AK12]
    short_cramps_per_8h=0.7,
    plm_series_p=0.3,  # PLMI ≥ 15 in 25–29 % of older adults [WSC, KOR]
    plm_series_per_8h=3.0,
    turns_per_h=TURNS_PER_H,
    stretches_per_8h=2.0,
    toilet_trips_per_8h=1.5,
    motion_per_8h=10.0,
    lead_off_per_8h=0.7,
    hum_bad_per_8h=0.3,
    drift_per_8h=0.7,
    hum_change_per_8h=1.5,
    wander_per_8h=2.0,
    long_bad_p=0.1,
)
PROFILES: dict[str, Profile] = {
    "dense": Profile(
        cramps_per_8h=(0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1),
        short_cramps_per_8h=4.0,
        plm_series_p=1.0,
        plm_series_per_8h=5.0,
        turns_per_h=TURNS_PER_H * 1.5,
        stretches_per_8h=10.0,
        toilet_trips_per_8h=3.0,
        motion_per_8h=30.0,
        lead_off_per_8h=4.0,
        hum_bad_per_8h=2.0,
        drift_per_8h=3.0,
        hum_change_per_8h=4.0,
        wander_per_8h=6.0,
        long_bad_p=0.5,
    ),
    "typical": TYPICAL,
    "quiet": replace(TYPICAL, cramps_per_8h=(0.7, 0.3), short_cramps_per_8h=0.2),
    # the family-mix profile: 6–10 cramps a night, typical confounders
    "families": replace(
        TYPICAL, cramps_per_8h=(0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1), family_weights=EVEN_NEW_FAMILIES
    ),
}


class _Occupancy:
    """Intervals already taken; :meth:`place` finds a free start for a span of given length."""

    def __init__(self, duration_s: float) -> None:
        self.duration_s = duration_s
        self.spans: list[tuple[float, float]] = []

    def free(self, a: float, b: float, gap: float) -> bool:
        return all(b + gap <= s or a >= e + gap for s, e in self.spans)

    def place(self, rng: np.random.Generator, length: float, gap: float = 5.0) -> float | None:
        hi = self.duration_s - EDGE_S - length
        if hi < EDGE_S:
            return None
        for _ in range(60):
            a = float(rng.uniform(EDGE_S, hi))
            if self.free(a, a + length, gap):
                return a
        return None

    def add(self, a: float, b: float) -> None:
        self.spans.append((a, b))


@dataclass(slots=True)
class Schedule:
    """Episodes to render, posture keyframes (t_s, elevation °, roll °) and the truth lists."""

    episodes: list[Episode]
    posture: list[tuple[float, float, float]]
    cramps: list[dict[str, Any]]
    short_cramps: list[dict[str, Any]]
    confounders: list[dict[str, Any]]
    bad_signal: list[dict[str, Any]]


def _count(rng: np.random.Generator, per_8h: float, hours: float) -> int:
    return int(rng.poisson(per_8h * hours / 8.0))


def _r(x: float) -> float:
    return round(float(x), 3)


class _Builder:
    def __init__(self, rng: np.random.Generator, sub: Subject, duration_s: float) -> None:
        self.rng = rng
        self.sub = sub
        self.T = duration_s
        self.episodes: list[Episode] = []
        self.moves = _Occupancy(duration_s)  # cramps and movement confounders
        self.cramp_spans = _Occupancy(duration_s)
        self.posture_events: list[tuple[float, str, dict[str, float]]] = []
        self.cramps: list[dict[str, Any]] = []
        self.short: list[dict[str, Any]] = []
        self.conf: list[dict[str, Any]] = []
        self.bad: list[dict[str, Any]] = []

    def ep(self, kind: str, a: float, b: float, **params: Any) -> None:
        b = min(b, self.T)
        if b - a < 0.05:
            return
        seed = int(self.rng.integers(0, 2**31))
        self.episodes.append(Episode(kind, float(a), float(b), seed, params))

    # -- cramps --------------------------------------------------------------------------------
    def add_cramp(self, family: str) -> None:
        """Draw a cramp of ``family`` (:mod:`families`), place it, add its episodes and truth.

        Relative times below count from the start of the EMG rise (the episode's start).
        """
        rng = self.rng
        c = draw_cramp(rng, family)
        space = self.T - 2 * EDGE_S - 60.0
        duration = min(c.duration_s, max(SHORT_CRAMP_S, 0.6 * space))
        onset_rel, plateau_rel = c.onset_after_start_s, c.plateau_after_start_s
        end_rel = onset_rel + duration
        # The decay starts in the second half of the plateau and reaches the band at end_rel.
        decay = min(c.decay_s, 0.5 * max(end_rel - plateau_rel, 0.2) / (1.0 - END_BAND))
        decay_rel = end_rel - (1.0 - END_BAND) * decay
        episode_end_rel = decay_rel + decay
        wake_rel = None
        if c.wake_delay_s is not None and onset_rel + c.wake_delay_s < decay_rel - 1.0:
            wake_rel = onset_rel + c.wake_delay_s
        wake_len = float(rng.uniform(*WAKE_MOVE_S))
        stretch_rel = surge = None
        if wake_rel is not None and c.stretch:
            delay, surge = float(rng.uniform(2.0, 20.0)), float(rng.uniform(3.0, 15.0))
            room = decay_rel - 0.5 - wake_rel
            if delay + surge > room:
                f = room / (delay + surge)
                delay, surge = delay * f, surge * f
            if surge >= 1.0 and delay >= 1.0:
                stretch_rel = wake_rel + delay
                wake_len = min(wake_len, delay)
            else:
                surge = None
        move_rel = move_len = None
        if wake_rel is not None and c.move is not None:
            # moves as soon as the pain wakes them, within the cramp [NHS: stand, walk]
            move_rel = min(wake_rel + 2.0 + float(rng.uniform(0.0, 3.0)), end_rel - 1.0)
            move_rel = max(move_rel, wake_rel + 2.0)
            wake_len = min(wake_len, move_rel - wake_rel)
            lo, hi = {"turn": TURN_IN_CRAMP_S, "sit_stand": STAND_IN_CRAMP_S}.get(
                c.move, WALK_IN_CRAMP_S
            )
            move_len = float(rng.uniform(lo, hi))
        walk_rel = walk_len = None
        if c.walk_off and stretch_rel is not None and surge is not None:
            walk_rel = max(stretch_rel + surge + 3.0, decay_rel - float(rng.uniform(10.0, 60.0)))
            walk_len = float(rng.uniform(30.0, 180.0))
        busy_rel = max(
            episode_end_rel,
            (move_rel or 0.0) + (move_len or 0.0),
            (walk_rel or 0.0) + (walk_len or 0.0),
        )
        a = self.moves.place(rng, c.fasciculation_s + busy_rel + 20.0, gap=20.0)
        if a is None:
            return
        start = a + c.fasciculation_s  # the EMG rise begins
        self.moves.add(a, start + busy_rel + 20.0)
        self.cramp_spans.add(a, start + busy_rel + 20.0)
        onset, end = start + onset_rel, start + end_rel
        post_gain = float(rng.uniform(0.7, 1.0))
        gain = float(rng.uniform(*SURGE_GAIN))
        plateau_excess = (c.level - 1.0) * (post_gain if stretch_rel is not None else 1.0)
        # issue 15 / physiology.md §6 "Residual": clearly below the cramp that caused it
        resid = 1.0 + min(float(rng.uniform(*RESIDUAL)) - 1.0, RESIDUAL_SHARE * plateau_excess)
        lead = a if c.fasciculation_s > 0 else start if c.build_up_s > 0 else onset
        params: dict[str, Any] = {
            "level": c.level,
            "build_up_s": c.build_up_s,
            "build_up_fraction": c.build_up_fraction,
            "build_up_power": c.build_up_power,
            "rise_s": c.rise_s,
            "residual": resid,
            "decay_start_s": start + decay_rel,
        }
        entry: dict[str, Any] = {
            "onset_s": _r(onset),
            "end_s": _r(end),
            "lead_s": _r(lead),
            "wake_s": None,
            "family": c.family,
            "level": _r(c.level),
        }
        if c.fasciculation_s > 0:
            self.ep(
                "fasciculation",
                a,
                onset,
                rate_hz=float(rng.uniform(0.3, 3.0)),
                twitch_ratio=float(rng.uniform(3.0, 10.0)),
                **{"raise": float(rng.uniform(1.1, 1.4))},
            )
            self.conf.append({"kind": "fasciculation", "start_s": _r(a), "end_s": _r(onset)})
        if family == SHORT_FAMILY:
            self.ep("cramp", start, start + episode_end_rel, **params)
            self.short.append(entry)
            return
        entry.update(
            ramp_s=_r(plateau_rel),
            plateau_s=_r(start + plateau_rel),
            build_up=c.build_up_s > 0,
            build_up_s=_r(c.build_up_s),
            fasciculation=c.fasciculation_s > 0,
            residual_level=_r(resid),
            decay_start_s=_r(start + decay_rel),
            stretch_s=None,
            stretch_end_s=None,
            peak_level=_r(c.level),
            move=c.move if move_rel is not None else None,
            move_s=None,
            move_end_s=None,
            walk_off=walk_rel is not None,
            restretch_s=[],
        )
        lie_at: float | None = end + float(rng.uniform(2.0, 15.0))
        if wake_rel is not None:
            w = start + wake_rel
            entry["wake_s"] = _r(w)
            self.ep(
                "wake",
                w,
                w + wake_len,
                voluntary_uv=float(rng.uniform(*WAKE_VOLUNTARY_UV)),
                artifact_uv=float(rng.uniform(*WAKE_ARTIFACT_UV)),
                accel_g=float(rng.uniform(*WAKE_ACCEL_G)),
            )
            after_wake = [x for x in (stretch_rel, move_rel) if x is not None]
            until = start + min(after_wake) if after_wake else w + wake_len + 1.0
            self.posture_events.append((w, "wake", {"until": until}))
        if stretch_rel is not None and surge is not None:
            s = start + stretch_rel
            params.update(stretch_s=s, surge_s=surge, surge_gain=gain, post_gain=post_gain)
            entry.update(
                stretch_s=_r(s),
                stretch_end_s=_r(s + surge),
                peak_level=_r(1.0 + (c.level - 1.0) * gain),
            )
            self.posture_events.append((s, "cramp_stretch", {"until": s + surge}))
            limit = start + (walk_rel if walk_rel is not None else decay_rel) - 5.0
            restretch = self._restretches(s + surge, limit)
            params["restretch"] = tuple(restretch)
            entry["restretch_s"] = [_r(r[0]) for r in restretch]
        if move_rel is not None and move_len is not None and c.move is not None:
            m = start + move_rel
            entry.update(move_s=_r(m), move_end_s=_r(m + move_len))
            self.move_in_cramp(c.move, m, min(m + move_len, self.T - EDGE_S))
            lie_at = None  # a turn ends lying; standing and walking end lying down
        self.ep("cramp", start, start + episode_end_rel, **params)
        tau = float(rng.uniform(*SORENESS_TAU_S))
        sore_a, sore_b = start + episode_end_rel, min(self.T, start + episode_end_rel + 3 * tau)
        self.ep("soreness", sore_a, sore_b, residual=resid, tau_s=tau)
        self.conf.append({"kind": "soreness", "start_s": _r(sore_a), "end_s": _r(sore_b)})
        if walk_rel is not None and walk_len is not None:
            wa = start + walk_rel
            wb = min(wa + walk_len, self.T - EDGE_S)
            if wb - wa > 10.0:
                self.trip(wa, wb, "walk_off")
                lie_at = None
        if lie_at is not None:
            self.posture_events.append((lie_at, "lie", {}))
        self.cramps.append(entry)

    def _restretches(self, after: float, limit: float) -> list[tuple[float, float, float]]:
        """Later stretches and massage of a long cramp (smaller surges [RT95]) before ``limit``."""
        rng = self.rng
        out: list[tuple[float, float, float]] = []
        at = after + float(rng.uniform(30.0, 120.0))
        while at + 10.0 < limit:
            dur = float(rng.uniform(3.0, 10.0))
            out.append((at, dur, float(rng.uniform(1.2, 2.0))))
            self.ep(
                "wake",
                at,
                at + dur,
                voluntary_uv=float(rng.uniform(5.0, 30.0)),
                artifact_uv=float(rng.uniform(10.0, 100.0)),
                accel_g=float(rng.uniform(0.03, 0.2)),
            )
            at += dur + float(rng.uniform(30.0, 120.0))
        return out

    def move_in_cramp(self, move: str, a: float, b: float) -> None:
        """A posture change, standing up or walking while the cramp goes on (issue 15)."""
        if move == "turn":
            self.turn_at(a, b, in_cramp=True)
        else:
            self.trip(a, b, "stand" if move == "sit_stand" else "walk_off", in_cramp=True)

    # -- movement confounders ----------------------------------------------------------------------
    def trip(self, a: float, b: float, kind: str, *, in_cramp: bool = False) -> None:
        """Get up and lie down again ``b − a`` s later. ``kind``: ``gait`` (walk, stand a while
        at the toilet, walk back), ``walk_off`` (walk throughout) or ``stand`` (stand only).
        ``in_cramp``: the cramp goes on meanwhile (its truth entry says so)."""
        rng = self.rng
        stride = STRIDE_S * float(rng.uniform(0.9, 1.12))
        burst = float(rng.uniform(*GAIT_BURST_PEAK_UV))
        sit = 3.0
        total = b - a - 2 * sit
        if kind == "gait":
            walk1 = total * float(rng.uniform(0.2, 0.35))
            stand = total * float(rng.uniform(0.3, 0.5))
        elif kind == "stand":
            walk1, stand = 0.0, total
        else:
            walk1, stand = total, 0.0
        w1a, w1b = a + sit, a + sit + walk1
        common = dict(
            stride_s=stride,
            burst_uv=burst,
            tonic_uv=float(rng.uniform(3.0, 5.5)),
            swing_deg=float(rng.uniform(20.0, 25.0)),
            artifact_uv=float(rng.uniform(5.0, 30.0)),
        )
        if walk1 > 0:
            self.ep("gait", w1a, w1b, **common)
        if stand > 0:
            self.ep("stand", w1b, w1b + stand, tone_uv=float(rng.uniform(3.0, 12.0)))
            if kind == "gait":
                self.ep("gait", w1b + stand, b - sit, **common)
        self.ep("motion", a, a + sit, voluntary_uv=20.0, artifact_uv=50.0, accel_g=0.2)
        self.ep("motion", b - sit, b, voluntary_uv=20.0, artifact_uv=50.0, accel_g=0.2)
        self.posture_events.append((a, "up", {"until": b}))
        entry: dict[str, Any] = {"kind": kind, "start_s": _r(a), "end_s": _r(b)}
        if kind != "stand":
            entry["stride_s"] = _r(stride)
        if in_cramp:
            entry["in_cramp"] = True
        self.conf.append(entry)

    def toilet(self) -> None:
        length = float(self.rng.uniform(90.0, 420.0))
        a = self.moves.place(self.rng, length, gap=10.0)
        if a is not None:
            self.moves.add(a, a + length)
            self.trip(a, a + length, "gait")

    def turn(self) -> None:
        length = float(self.rng.uniform(*TURN_S))
        a = self.moves.place(self.rng, length, gap=3.0)
        if a is not None:
            self.moves.add(a, a + length)
            self.turn_at(a, a + length)

    def turn_at(self, a: float, b: float, *, in_cramp: bool = False) -> None:
        """Turn over between ``a`` and ``b`` (EMG rise, artefact, gravity rotates [IRL21])."""
        rng = self.rng
        self.ep(
            "turn",
            a,
            b,
            voluntary_uv=float(rng.uniform(10.0, 80.0)),
            artifact_uv=float(rng.uniform(20.0, 200.0)),
            accel_g=float(rng.uniform(0.05, 0.3)),
        )
        self.posture_events.append((a, "turn", {"until": b}))
        entry: dict[str, Any] = {"kind": "turn", "start_s": _r(a), "end_s": _r(b)}
        if in_cramp:
            entry["in_cramp"] = True
        self.conf.append(entry)

    def stretch(self) -> None:
        rng = self.rng
        length = float(rng.uniform(2.0, 8.0))  # "seconds" (unconfirmed)
        a = self.moves.place(rng, length, gap=5.0)
        if a is None:
            return
        self.moves.add(a, a + length)
        self.ep(
            "stretch",
            a,
            a + length,
            burst_uv=float(rng.uniform(80.0, 400.0)),
            tilt_deg=float(rng.uniform(3.0, 10.0)),
        )
        self.conf.append({"kind": "stretch", "start_s": _r(a), "end_s": _r(a + length)})

    def plm_series(self) -> None:
        rng = self.rng
        n = int(rng.integers(PLM_MIN_SERIES, 60))
        period = float(rng.uniform(20.0, 40.0))  # typical period [JHM]
        intervals = np.clip(period * rng.lognormal(0.0, 0.2, n - 1), *PLM_INTERVAL_S)
        durs = np.clip(rng.lognormal(math.log(PLM_MEAN_S) - 0.1, 0.45, n), *PLM_LM_S)
        durs = np.minimum(durs, np.append(intervals, np.inf) - 1.0)
        onsets = np.concatenate([[0.0], np.cumsum(intervals)])
        length = float(onsets[-1] + durs[-1])
        a = self.moves.place(rng, length, gap=10.0)
        if a is None:
            return
        self.moves.add(a, a + length)
        calf_gain = float(rng.uniform(0.02, 0.5))  # crosstalk/co-activation: unconfirmed (§2)
        ta = float(rng.uniform(15.0, 120.0))  # ≥ 8 µV above rest at onset [PLMt]
        idx = len([c for c in self.conf if c["kind"] == "plm_series"])
        self.conf.append(
            {
                "kind": "plm_series",
                "start_s": _r(a),
                "end_s": _r(a + length),
                "n_lm": n,
                "series": idx,
            }
        )
        for o, d in zip(onsets, durs, strict=True):
            seen = rng.random() < PLM_ACCEL_SEEN
            self.ep(
                "plm",
                a + o,
                a + o + d,
                # scored LMs rise ≥ 8 µV above rest [PLMt], whatever the subject's scale
                ta_uv=max(
                    PLM_ONSET_UV * 1.5,
                    ta * self.sub.amplitude_scale * float(rng.lognormal(0.0, 0.3)),
                ),
                calf_gain=calf_gain * float(rng.lognormal(0.0, 0.4)),
                tilt_deg=float(rng.uniform(1.0, 5.0)) if seen else 0.0,
            )
            self.conf.append(
                {"kind": "plm", "start_s": _r(a + o), "end_s": _r(a + o + d), "series": idx}
            )

    def motion(self) -> None:
        rng = self.rng
        length = float(rng.uniform(0.5, 3.0))
        a = self.moves.place(rng, length, gap=2.0)
        if a is None:
            return
        self.moves.add(a, a + length)
        self.ep(
            "motion",
            a,
            a + length,
            voluntary_uv=float(rng.uniform(2.0, 30.0)),
            artifact_uv=float(rng.uniform(20.0, 300.0)),
            accel_g=float(rng.uniform(0.05, 0.5)),
        )
        self.conf.append({"kind": "motion_artifact", "start_s": _r(a), "end_s": _r(a + length)})

    # -- signal-quality episodes ------------------------------------------------------------------
    def bad_span(self, lo: float, hi: float) -> tuple[float, float] | None:
        length = float(math.exp(self.rng.uniform(math.log(lo), math.log(hi))))
        a = self.cramp_spans.place(self.rng, length, gap=30.0)
        if a is None:
            return None
        return a, a + length

    def lead_off(self, lo: float = 10.0, hi: float = 1200.0) -> None:
        rng = self.rng
        span = self.bad_span(lo, hi)
        if span is None:
            return
        a, b = span
        params: dict[str, Any] = {
            "noise_gain": float(rng.uniform(1.0, 5.0)),
            "hum_gain": float(rng.uniform(5.0, 50.0)),
            "step_uv": float(rng.uniform(200.0, 3000.0)),
        }
        self.bad.append({"kind": "lead_off", "start_s": _r(a), "end_s": _r(b)})
        self.bad.append({"kind": "hum", "start_s": _r(a), "end_s": _r(b)})
        self.bad.append({"kind": "drift", "start_s": _r(a), "end_s": _r(b)})
        if b - a > 6.0 and rng.random() < 0.7:
            ha = a + (b - a) * float(rng.uniform(0.2, 0.4))
            hb = a + (b - a) * float(rng.uniform(0.6, 0.9))
            rail = rng.random() < 0.5
            value = (
                RAIL_UV * (1.0 if rng.random() < 0.5 else -1.0)
                if rail
                else float(rng.uniform(-500.0, 500.0))
            )
            params.update(hold_start_s=ha, hold_end_s=hb, hold_value_uv=value)
            self.bad.append(
                {"kind": "saturation" if rail else "flat", "start_s": _r(ha), "end_s": _r(hb)}
            )
        self.ep("lead_off", a, b, **params)

    def hum_bad(self) -> None:
        span = self.bad_span(30.0, 1800.0)
        if span is not None:
            self.ep("hum", *span, gain=float(self.rng.uniform(10.0, 40.0)))
            self.bad.append({"kind": "hum", "start_s": _r(span[0]), "end_s": _r(span[1])})

    def drift(self) -> None:
        span = self.bad_span(20.0, 900.0)
        if span is not None:
            self.ep("drift", *span, amplitude_uv=float(self.rng.uniform(200.0, 3000.0)))
            self.bad.append({"kind": "drift", "start_s": _r(span[0]), "end_s": _r(span[1])})

    def background(self, kind: str, lo: float, hi: float, **params: Any) -> None:
        """Overlap-allowed confounders: hum_change, baseline_wander."""
        length = min(float(math.exp(self.rng.uniform(math.log(lo), math.log(hi)))), self.T / 2)
        if self.T - 2 * EDGE_S - length <= 0:
            return
        a = float(self.rng.uniform(EDGE_S, self.T - EDGE_S - length))
        self.ep(kind, a, a + length, **params)
        self.conf.append({"kind": kind, "start_s": _r(a), "end_s": _r(a + length)})

    # -- posture ---------------------------------------------------------------------------------
    def posture(self) -> list[tuple[float, float, float]]:
        """Keyframes (t, elevation °, roll °): lying ≈ 0 g along the shank, upright ≈ 1 g (§3)."""
        rng = self.rng
        lying_rolls = (0.0, SIDE_ROLL_DEG, -SIDE_ROLL_DEG, 180.0)
        weights = (0.45, 0.25, 0.25, 0.05)

        def new_lying(old_roll: float) -> tuple[float, float]:
            while True:
                r = float(rng.choice(lying_rolls, p=weights))
                if r != old_roll:
                    return float(rng.uniform(-5.0, 15.0)), r

        elev, roll = new_lying(999.0)
        keys: list[tuple[float, float, float]] = [(0.0, elev, roll)]
        for t, what, info in sorted(self.posture_events, key=lambda e: e[0]):
            if t <= keys[-1][0]:
                continue
            keys.append((t, elev, roll))
            if what == "turn":
                elev, roll = new_lying(roll)
                keys.append((info["until"], elev, roll))
            elif what == "up":
                keys.append((t + 2.5, SITTING_ELEV_DEG, 0.0))
                keys.append((info["until"] - 2.5, 90.0, 0.0))
                elev, roll = new_lying(999.0)
                keys.append((info["until"], elev, roll))
            elif what == "wake":  # pulls the knee up in pain: shank tilts
                e2 = elev + float(rng.uniform(20.0, 40.0))
                keys.append((t + 1.5, e2, roll))
                keys.append((max(t + 1.6, info["until"] - 1.0), e2, roll))
                elev = e2
            elif what == "cramp_stretch":  # sits up, leg straight, foot pulled up [NHS]
                elev, roll = float(rng.uniform(0.0, 10.0)), 0.0
                keys.append((t + 1.0, elev, roll))
            elif what == "lie":
                elev, roll = new_lying(999.0)
                keys.append((t + 2.0, elev, roll))
        keys.append((self.T + 1.0, elev, roll))
        return keys


RAIL_UV = 9999.0  # ADC full scale ±10 mV (a 24-h logger's range [Gan17]); clipping at the rails


def build_schedule(
    rng: np.random.Generator, sub: Subject, profile_name: str, duration_s: float
) -> Schedule:
    """Lay out one night. ``duration_s`` seconds; all spans lie inside ``[0, duration_s]``."""
    prof = PROFILES[profile_name]
    hours = duration_s / 3600.0
    b = _Builder(rng, sub, duration_s)
    w = np.asarray(prof.cramps_per_8h, dtype=float)
    n8 = int(rng.choice(w.size, p=w / w.sum()))
    if profile_name == "dense":
        n_req = max(1, n8 if hours >= 8 else int(rng.binomial(n8, min(1.0, hours / 8.0))))
    else:
        n_req = int(rng.binomial(n8, min(1.0, hours / 8.0)))
    weights = np.asarray(prof.family_weights, dtype=float)
    for _ in range(n_req):
        b.add_cramp(str(rng.choice(FAMILIES, p=weights / weights.sum())))
    for _ in range(_count(rng, prof.short_cramps_per_8h, hours)):
        b.add_cramp(SHORT_FAMILY)
    if rng.random() < prof.plm_series_p:
        for _ in range(max(1, _count(rng, prof.plm_series_per_8h, hours))):
            b.plm_series()
    for _ in range(_count(rng, prof.toilet_trips_per_8h, hours)):
        b.toilet()
    for _ in range(int(rng.poisson(prof.turns_per_h * hours))):
        b.turn()
    for _ in range(_count(rng, prof.stretches_per_8h, hours)):
        b.stretch()
    for _ in range(_count(rng, prof.motion_per_8h, hours)):
        b.motion()
    for _ in range(_count(rng, prof.lead_off_per_8h, hours)):
        b.lead_off()
    if rng.random() < prof.long_bad_p * min(1.0, hours / 8.0):
        b.lead_off(1200.0, 3600.0)  # sometimes long stretches of bad signal
    for _ in range(_count(rng, prof.hum_bad_per_8h, hours)):
        b.hum_bad()
    for _ in range(_count(rng, prof.drift_per_8h, hours)):
        b.drift()
    for _ in range(_count(rng, prof.hum_change_per_8h, hours)):
        gain = float(math.exp(rng.uniform(math.log(0.3), math.log(5.0))))
        b.background("hum_change", 60.0, 7200.0, gain=gain)  # a lamp or appliance switching
    for _ in range(_count(rng, prof.wander_per_8h, hours)):
        b.background("baseline_wander", 30.0, 1800.0, amplitude_uv=float(rng.uniform(5.0, 100.0)))
    if sub.ecg_uv > 0:
        b.ep("ecg", 0.0, duration_s)
        b.conf.append(
            {"kind": "ecg", "start_s": 0.0, "end_s": _r(duration_s), "peak_uv": _r(sub.ecg_uv)}
        )
    posture = b.posture()
    b.episodes.sort(key=lambda e: (e.start_s, e.end_s))
    key = lambda d: (d.get("onset_s", d.get("start_s", 0.0)), d.get("end_s", 0.0))  # noqa: E731
    return Schedule(
        episodes=b.episodes,
        posture=posture,
        cramps=sorted(b.cramps, key=key),
        short_cramps=sorted(b.short, key=key),
        confounders=sorted(b.conf, key=key),
        bad_signal=sorted(b.bad, key=key),
    )
