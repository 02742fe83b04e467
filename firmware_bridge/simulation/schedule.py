"""What happens when: cramps, confounders and bad signal laid out over a night.

:func:`build_schedule` draws the episodes of one night (see ``episodes.Episode``), the shank
posture keyframes and the truth entries. Cramps never overlap each other; movement confounders
(turns, stretches, toilet trips, PLM series) keep clear of cramps and of each other; bad signal
keeps clear of cramps. Rates per hour come from the profile. Pure numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from firmware_bridge.simulation.episodes import GAIT_BURST_PEAK_UV, STRIDE_S, Episode
from firmware_bridge.simulation.subject import Subject

EDGE_S = 5.0  # keep episodes this far from the night's ends
SHORT_CRAMP_S = 10.0  # contract: required cramps last ≥ 10 s; shorter ones are listed apart
CRAMP_MAX_S = 600.0  # [Hal17, NHS]: seconds to 10 min
BUILD_UP_S = (41.0, 11.0)  # [CS]: motionless rise for 41 ± 11 s before waking
CRAMP_PCT = (100.0, 800.0)  # [CS]: 100–500 % (tension), spikes 200–800 % over baseline
CRAMP_PCT_MEDIAN = 217.0  # [CS]: rose 217 % on average
RESIDUAL = (1.6, 2.2)  # [CS]: ~2× baseline afterwards
SURGE_GAIN = (1.5, 3.0)  # [RT95]: forcible stretch raises activity; size **unconfirmed**
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
    "typical": Profile(
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
    ),
    "quiet": Profile(
        cramps_per_8h=(0.7, 0.3),
        short_cramps_per_8h=0.2,
        plm_series_p=0.3,
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
    def cramp_level(self) -> float:
        # log-normal around the [CS] mean, clipped to its range: some weak ones near +100 %
        pct = float(np.clip(self.rng.lognormal(math.log(CRAMP_PCT_MEDIAN), 0.5), *CRAMP_PCT))
        return 1.0 + pct / 100.0

    def add_cramp(self, duration: float, short: bool) -> None:
        rng = self.rng
        level = self.cramp_level()
        wake = not short and duration >= 20.0 and rng.random() < 0.9
        build_up = wake and duration >= 100.0 and rng.random() < 0.6
        fasc = rng.random() < 0.35
        walk = wake and duration >= 60.0 and rng.random() < 0.35
        if build_up:
            ramp = float(np.clip(rng.normal(*BUILD_UP_S), 20.0, 70.0))
            wake_delay = ramp + float(rng.uniform(0.0, 3.0))
        else:
            ramp = float(rng.uniform(0.5, 4.0)) if not short else float(rng.uniform(0.3, 1.5))
            wake_delay = ramp + float(rng.uniform(1.0, 8.0))
        stretch_delay = float(rng.uniform(2.0, 20.0))
        surge = float(rng.uniform(3.0, 15.0))
        decay = float(rng.uniform(5.0, 30.0)) if not short else float(rng.uniform(0.5, 2.0))
        if wake:
            need = wake_delay + stretch_delay + surge + decay
            if need > duration * 0.95:
                f = duration * 0.95 / need
                stretch_delay, surge, decay = stretch_delay * f, surge * f, decay * f
                if wake_delay * f < ramp:
                    ramp = wake_delay * f
                wake_delay *= f
        else:
            ramp = min(ramp, duration * 0.4)
            decay = min(decay, duration * 0.4)
        fasc_s = float(rng.uniform(20.0, 120.0)) if fasc else 0.0
        walk_s = float(rng.uniform(30.0, 180.0)) if walk else 0.0
        after = 20.0 + walk_s
        a = self.moves.place(rng, fasc_s + duration + after, gap=20.0)
        if a is None:
            return
        onset = a + fasc_s
        end = onset + duration
        self.moves.add(a, end + after)
        self.cramp_spans.add(a, end + after)
        resid = min(float(rng.uniform(*RESIDUAL)), 1.0 + 0.8 * (level - 1.0))
        entry: dict[str, Any] = {"onset_s": _r(onset), "end_s": _r(end), "level": _r(level)}
        params: dict[str, Any] = {
            "level": level,
            "ramp_s": ramp,
            "ramp_power": float(rng.uniform(1.0, 2.0)) if build_up else 1.0,
            "residual": resid,
            "decay_start_s": end - decay,
        }
        if fasc:
            self.ep(
                "fasciculation",
                a,
                onset + ramp,
                rate_hz=float(rng.uniform(0.3, 3.0)),
                twitch_ratio=float(rng.uniform(3.0, 10.0)),
                **{"raise": float(rng.uniform(1.1, 1.4))},
            )
            self.conf.append({"kind": "fasciculation", "start_s": _r(a), "end_s": _r(onset + ramp)})
        if short:
            self.ep("cramp", onset, end, **params)
            self.short.append(entry)
            return
        entry.update(
            ramp_s=_r(ramp),
            build_up=build_up,
            fasciculation=fasc,
            residual_level=_r(resid),
            wake_s=None,
            stretch_s=None,
            stretch_end_s=None,
            peak_level=_r(level),
            walk_off=walk,
        )
        walk_at = end  # replaced below: walking implies waking
        if wake:
            w = onset + wake_delay
            s = w + stretch_delay
            gain = float(rng.uniform(*SURGE_GAIN))
            params.update(
                stretch_s=s, surge_s=surge, surge_gain=gain, post_gain=float(rng.uniform(0.5, 1.0))
            )
            entry.update(
                wake_s=_r(w),
                stretch_s=_r(s),
                stretch_end_s=_r(s + surge),
                peak_level=_r(1.0 + (level - 1.0) * gain),
            )
            self.ep(
                "wake",
                w,
                w + float(rng.uniform(1.5, 4.0)),
                voluntary_uv=float(rng.uniform(5.0, 30.0)),
                artifact_uv=float(rng.uniform(20.0, 150.0)),
                accel_g=float(rng.uniform(0.05, 0.3)),
            )
            self.posture_events.append((w, "wake", {"until": s}))
            self.posture_events.append((s, "cramp_stretch", {"until": s + surge}))
            # Walking relieves it [NHS]: the sleeper gets up late in the cramp and it ends
            # while walking. Until then, long cramps bring more stretches and massage.
            decay_start = end - decay
            if walk:
                walk_at = max(s + surge + 3.0, decay_start - float(rng.uniform(10.0, 60.0)))
            limit = (walk_at if walk else decay_start) - 5.0
            restretch: list[tuple[float, float, float]] = []
            at = s + surge + float(rng.uniform(30.0, 120.0))
            while at + 10.0 < limit:
                dur = float(rng.uniform(3.0, 10.0))
                restretch.append((at, dur, float(rng.uniform(1.2, 2.0))))
                self.ep(
                    "wake",
                    at,
                    at + dur,
                    voluntary_uv=float(rng.uniform(5.0, 30.0)),
                    artifact_uv=float(rng.uniform(10.0, 100.0)),
                    accel_g=float(rng.uniform(0.03, 0.2)),
                )
                at += dur + float(rng.uniform(30.0, 120.0))
            params["restretch"] = tuple(restretch)
            entry["restretch_s"] = [_r(r[0]) for r in restretch]
        self.ep("cramp", onset, end, **params)
        tau = float(rng.uniform(*SORENESS_TAU_S))
        self.ep("soreness", end, min(self.T, end + 3 * tau), residual=resid, tau_s=tau)
        self.conf.append(
            {"kind": "soreness", "start_s": _r(end), "end_s": _r(min(self.T, end + 3 * tau))}
        )
        if walk:
            wa = walk_at
            wb = min(wa + walk_s, self.T - EDGE_S)
            if wb - wa > 10.0:
                self.trip(wa, wb, "walk_off")
        else:
            self.posture_events.append((end + float(rng.uniform(2.0, 15.0)), "lie", {}))
        self.cramps.append(entry)

    # -- movement confounders ----------------------------------------------------------------------
    def trip(self, a: float, b: float, kind: str) -> None:
        """Get up, walk, stand a while (toilet), walk back, lie down; ``kind`` gait/walk_off."""
        rng = self.rng
        stride = STRIDE_S * float(rng.uniform(0.9, 1.12))
        burst = float(rng.uniform(*GAIT_BURST_PEAK_UV))
        sit = 3.0
        total = b - a - 2 * sit
        if kind == "gait":
            walk1 = total * float(rng.uniform(0.2, 0.35))
            stand = total * float(rng.uniform(0.3, 0.5))
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
        self.ep("gait", w1a, w1b, **common)
        if stand > 0:
            self.ep("stand", w1b, w1b + stand, tone_uv=float(rng.uniform(3.0, 12.0)))
            self.ep("gait", w1b + stand, b - sit, **common)
        self.ep("motion", a, a + sit, voluntary_uv=20.0, artifact_uv=50.0, accel_g=0.2)
        self.ep("motion", b - sit, b, voluntary_uv=20.0, artifact_uv=50.0, accel_g=0.2)
        self.posture_events.append((a, "up", {"until": b}))
        self.conf.append({"kind": kind, "start_s": _r(a), "end_s": _r(b), "stride_s": _r(stride)})

    def toilet(self) -> None:
        length = float(self.rng.uniform(90.0, 420.0))
        a = self.moves.place(self.rng, length, gap=10.0)
        if a is not None:
            self.moves.add(a, a + length)
            self.trip(a, a + length, "gait")

    def turn(self) -> None:
        rng = self.rng
        length = float(rng.uniform(*TURN_S))
        a = self.moves.place(rng, length, gap=3.0)
        if a is None:
            return
        self.moves.add(a, a + length)
        self.ep(
            "turn",
            a,
            a + length,
            voluntary_uv=float(rng.uniform(10.0, 80.0)),
            artifact_uv=float(rng.uniform(20.0, 200.0)),
            accel_g=float(rng.uniform(0.05, 0.3)),
        )
        self.posture_events.append((a, "turn", {"until": a + length}))
        self.conf.append({"kind": "turn", "start_s": _r(a), "end_s": _r(a + length)})

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
    space = duration_s - 2 * EDGE_S - 60.0
    for _ in range(n_req):
        # seconds to 10 min [Hal17]; mean 8–9 min [BMJ] but shape unconfirmed: log-normal
        d = float(np.clip(rng.lognormal(math.log(150.0), 0.9), SHORT_CRAMP_S, CRAMP_MAX_S))
        d = min(d, max(SHORT_CRAMP_S, space * 0.6))
        b.add_cramp(d, short=False)
    for _ in range(_count(rng, prof.short_cramps_per_8h, hours)):
        b.add_cramp(float(rng.uniform(2.0, 9.5)), short=True)
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
