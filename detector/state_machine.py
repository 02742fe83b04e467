"""The cramp event state machine: one ``(state, trigger) -> state`` table (house-style §3).

It runs over frames (``frame_s`` each) whose features were computed vectorised. Per frame it
classifies one trigger (reading its state, never changing it; every rule is a named predicate of
:mod:`detector.rules`, with its source and setting), looks the transition up in :data:`TABLE`,
and performs the action tied to that transition (emit ``cramp_started`` / ``cramp_update`` /
``cramp_ended`` / ``cramp_recorded``, remember a burst). Frames in which nothing can happen (IDLE
and not elevated) are skipped in bulk, so the Python loop only visits elevated frames and frames
inside a cramp.

Motion may delay a confirmation, never veto it (issue #15): the first movement (or its artifact)
after ``pre_still_s`` of still raw discharge starts a *woken* candidate (WOKE) dated to where that
discharge began. When the leg is still again, the candidate is confirmed if the discharge goes
on, or, if its level has fallen to its own residual (OVER, ``over_candidate_fraction``), logged
as one ``cramp_recorded`` (dated ``t_onset`` .. ``t_end``, never prompted) when it lasted its
confirmation time; either way its residual raises the onset level, so it cannot alarm later.

Physiology behind the triggers (``shared/notes/physiology.md``):

* a cramp is a sustained (tens of s to minutes [Hal17]) involuntary calf discharge, +100..800 % over
  rest [CS], *without movement* for ~41 s before the sleeper wakes [CS] → confirm a still, lying,
  elevated run of ``confirm_s`` whose median level reached ``confirm_ratio`` (a level hovering at
  the onset threshold, e.g. pre-cramp fasciculation [JAT21], stays a candidate);
* PLM: 0.5–10 s bursts every 5–90 s [PLMt, WASM16] → after recent unconfirmed bursts the run must
  outlast the longest LM (``plm_confirm_s``); a shin (tibialis anterior) channel louder than the
  calf marks a leg movement;
* turning over, stretches, gait: movement / tilt / upright posture veto a candidate, and a run that
  starts right after movement needs ``after_motion_confirm_s``;
* a stretch during a cramp raises the EMG [RT95] and waking moves the leg: inside a cramp motion
  never ends or restarts it; dips shorter than ``end_hold_s`` are bridged; a candidate whose
  discharge began ``pre_still_s`` before any movement (counted from its onset estimate) outlives
  the movement of waking and its artifact (bad signal up to ``rules.CANDIDATE_BAD_S``);
* the cramp ends when the level falls below its end threshold (a fraction of the cramp's own
  lower-quartile *excess* over rest, so the ~2× residual [CS] ends even a +100 % cramp) for
  ``end_hold_s`` and has levelled off; ``t_end`` is where that fall reached the plateau;
* a poor contact's noise raises the level too, but it is white where EMG is band-limited: a
  candidate whose excess over rest has a flat spectrum (``flat_shape``) is never confirmed and
  never counts as a discharge that woke the sleeper;
* standing / walking relieves it [NHS]: upright for ``upright_end_s`` ends it at that moment;
* without accelerometer data ("blind": an EMG-only file, a failed IMU) nothing can be vetoed by
  movement, so a candidate must outlast the longest LM (``rules.BLIND_CONFIRM_S``).

Stateful; no I/O, no clock.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from detector import rules
from detector.types import DetectorEvent, EventKind, FloatArray


class State(IntEnum):
    IDLE = 0
    CANDIDATE = 1
    CRAMP = 2
    CRAMP_DIP = 3


class Trigger(IntEnum):
    BAD = 0  # no usable signal (quality gate, gap, floor still warming up)
    UPRIGHT = 1  # standing / sitting up
    MOVE = 2  # accelerometer movement or tilt, or shin louder than calf
    HIGH = 3  # level above the (state's) threshold
    LOW = 4  # level below it
    CONFIRM = 5  # HIGH long enough, still, lying: it is a cramp
    DROP = 6  # a candidate's dip lasted too long
    END = 7  # a cramp's dip lasted end_hold_s and levelled off
    LOST = 8  # a cramp's signal has been bad for too long
    STOOD = 9  # upright for upright_end_s during a cramp: walking it off
    WOKE = 10  # movement after a still discharge of pre_still_s: the sleeper woke from it
    OVER = 11  # a candidate's level fell to its own residual: the discharge is over


S, T = State, Trigger
TABLE: dict[tuple[State, Trigger], State] = {
    (S.IDLE, T.BAD): S.IDLE,
    (S.IDLE, T.UPRIGHT): S.IDLE,
    (S.IDLE, T.MOVE): S.IDLE,
    (S.IDLE, T.LOW): S.IDLE,
    (S.IDLE, T.HIGH): S.CANDIDATE,
    (S.IDLE, T.WOKE): S.CANDIDATE,  # the candidate starts where the still discharge began
    (S.CANDIDATE, T.HIGH): S.CANDIDATE,
    (S.CANDIDATE, T.LOW): S.CANDIDATE,  # a dip shorter than candidate_dip_s
    (S.CANDIDATE, T.CONFIRM): S.CRAMP,
    (S.CANDIDATE, T.DROP): S.IDLE,  # cramp_recorded if it was one, already over
    (S.CANDIDATE, T.OVER): S.IDLE,  # cramp_recorded if it was one, already over
    (S.CANDIDATE, T.MOVE): S.IDLE,
    (S.CANDIDATE, T.UPRIGHT): S.IDLE,
    (S.CANDIDATE, T.BAD): S.CANDIDATE,  # the artifact of waking, up to rules.CANDIDATE_BAD_S
    (S.CRAMP, T.HIGH): S.CRAMP,
    (S.CRAMP, T.LOW): S.CRAMP_DIP,
    (S.CRAMP, T.BAD): S.CRAMP,  # hold through short quality losses / gaps
    (S.CRAMP, T.LOST): S.IDLE,
    (S.CRAMP, T.UPRIGHT): S.CRAMP,
    (S.CRAMP, T.STOOD): S.IDLE,
    (S.CRAMP_DIP, T.UPRIGHT): S.CRAMP_DIP,
    (S.CRAMP_DIP, T.STOOD): S.IDLE,
    (S.CRAMP_DIP, T.HIGH): S.CRAMP,
    (S.CRAMP_DIP, T.LOW): S.CRAMP_DIP,
    (S.CRAMP_DIP, T.BAD): S.CRAMP_DIP,
    (S.CRAMP_DIP, T.END): S.IDLE,
    (S.CRAMP_DIP, T.LOST): S.IDLE,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class MachineParams:
    """Thresholds in frames and natural-log ratios (converted from DetectorSettings and the
    constants of :mod:`detector.rules`)."""

    frame_s: float
    onset_log: float
    end_log_min: float
    end_fraction: float  # end threshold = log(1 + this × lower-quartile excess), clamped:
    end_log_max: float
    end_rebound_log: float  # a dip ends (back to CRAMP) only above the end threshold + this
    pre_still_frames: int  # a candidate still this long is no longer vetoed by movement
    confirm_frames: int
    confirm_margin_log: float  # … and its median level this far above the onset threshold
    after_motion_frames: int  # a run starting within this of movement …
    after_motion_confirm_frames: int  # … needs this long
    plm_window_frames: int
    plm_min_bursts: int
    plm_confirm_frames: int
    candidate_dip_frames: int
    candidate_bad_frames: int  # a candidate that began still survives bad signal this long
    end_hold_frames: int
    lost_frames: int
    update_frames: int  # 0 = no cramp_update
    onset_lookback_frames: int
    burst_max_frames: int  # an elevated run this short may be a leg movement (LM ≤ 10 s)
    burst_peak_log: float  # … if its smoothed level peaked at least this high
    plm_gap_frames: int  # … if it ended at least this long before the candidate
    smooth_delay_s: float  # delay of the smoothed level behind the raw one (s)
    plateau_frames: int  # the residual plateau: compare the means of two halves this long
    plateau_drop_log: float  # … "still falling" if the later half is lower by more than this
    plateau_margin_log: float  # t_end = first dip frame within this of the plateau level
    upright_end_frames: int  # upright this long inside a cramp ends it (walking it off)
    blind_confirm_frames: int  # a candidate needs this long while the accelerometer is missing
    post_base_log: float  # after a cramp walked off: assumed residual level [CS: ~2×]
    post_tau_frames: float  # the post-cramp onset raise decays with this time constant
    flat_shape: float  # a candidate whose excess has this spectral shape ratio is noise
    over_fraction: float  # a candidate below rest + this × its own excess is over


@dataclass(frozen=True, slots=True)
class FrameInputs:
    """Per-frame features, each ``(n,)``; ``level`` = log(envelope / rest floor), smoothed,
    ``raw_level`` unsmoothed; ``last_motion`` = absolute index of the latest moving frame;
    ``blind`` = no valid accelerometer data (``moving`` / ``upright`` are then False, unknown);
    ``upper_share`` = the share of the per-bin excess power over rest that lies above the
    spectral shape split (white noise 0.5, surface EMG about 0.2; NaN: no excess);
    ``measured_level`` = the calf's median raw level over ``post_cramp_measure_s`` (log)."""

    first: int
    good: np.ndarray
    upright: np.ndarray
    moving: np.ndarray
    level: FloatArray
    raw_level: FloatArray
    last_motion: np.ndarray
    blind: np.ndarray
    upper_share: FloatArray  # that channel's excess over rest: share above the split (NaN: none)
    measured_level: FloatArray  # the calf's recent median raw level (NaN: too little signal)


class CrampMachine:
    def __init__(self, params: MachineParams) -> None:
        self.p = params
        self.reset()

    def reset(self) -> None:
        self.state = State.IDLE
        self.cramps = 0
        self._k0 = 0  # candidate / cramp onset frame
        self._k_onset = 0  # frame of the onset estimate (the raw level's rise) of the candidate
        self._t_onset = 0.0
        self._t_detect = 0.0
        self._low_since = -1  # first frame of the current dip (candidate or cramp)
        self._bad_since = -1
        self._last_good = 0
        self._levels: list[float] = []  # log levels of the candidate's / cramp's good frames
        self._shares: list[float] = []  # the candidate's frames' upper_share (finite ones)
        self._levels_at_dip = 0
        self._sorted: list[float] = []  # the cramp's levels, sorted (running median)
        self._dip: list[tuple[int, float]] = []  # (frame, level) of the current dip's good frames
        self._peak = 0.0
        self._next_update = 0
        self._bursts: list[tuple[int, int]] = []  # (start, end) frames of recent short runs
        self._prev_elev = False
        self._run_start_carry = -(10**9)
        self._run_peak_carry = -math.inf  # peak level of the run still open at the batch end
        self._raw_tail: list[float] = []  # last onset_lookback raw levels (for t_onset)
        self._end_log = 0.0
        self._up_since = -1
        self._up_levels: list[tuple[int, float]] = []  # (frame, level) of its upright frames
        self._woken = False
        self._motion_before_k0 = -(10**9)
        self._post_base = 0.0  # log level the onset threshold is raised by after a cramp …
        self._post_from = 0  # … decaying from this frame on
        self._cap_u = math.inf  # running min of log(measured excess) + frame/tau since then …
        self._first = 0  # the batch's first frame, its measured residual, that running min
        self._meas_u = np.zeros(0)  # per frame, and the onset thresholds they give
        self._cap = np.zeros(0)
        self._thr = np.zeros(0)
        self._thr_low = 0.0  # the onset threshold where a candidate's current dip began …
        self._thr_over = 0.0  # … and where its fall to the residual did
        self._over_since = -1  # first frame of a candidate's current fall to its residual …
        self._levels_at_over = 0  # … and how many of its levels came before it
        self._shares_at_over = 0  # … and of its spectral shares
        self._lead_in: list[float] = []  # raw levels from a candidate's onset to its start
        self._still_levels: list[float] = []  # its levels while still and not fallen
        self._still_run = 0  # frames of still raw discharge up to the previous batch's end
        self._last_motion_carry = -(10**9)  # last_motion at the previous batch's last frame
        # per batch, derived from its inputs (not state): the still raw discharge before each
        # frame (frames) and where a movement may be the sleeper waking from it
        self._run_before = np.zeros(0, dtype=np.int64)
        self._woke_at = np.zeros(0, dtype=bool)
        self._still = np.zeros(0, dtype=bool)  # the batch's frames of still raw discharge
        self._run_carry_in = 0  # _still_run and _last_motion_carry as the batch began
        self._motion_carry_in = -(10**9)
        self._motion_before = np.zeros(0, dtype=np.int64)

    # -- helpers ---------------------------------------------------------------------------
    def _t(self, frame: int) -> float:
        """Stream time of the *start* of ``frame`` (s)."""
        return frame * self.p.frame_s

    def _intensity(self) -> tuple[float, float]:
        mean = float(np.mean(np.exp(self._levels))) if self._levels else 1.0
        return mean, self._peak

    def _event(self, kind: EventKind, frame: int, *, t: float | None = None,
               t_end: float | None = None, duration_s: float | None = None,
               easing: bool | None = None) -> DetectorEvent:
        mean, peak = self._intensity()
        current = math.exp(self._levels[-1]) if self._levels else 1.0
        intensity = mean if kind is EventKind.CRAMP_ENDED else current
        return DetectorEvent(kind=kind, cramp_number=self.cramps, t_onset=self._t_onset,
                             t_detect=self._t_detect, intensity=round(intensity, 3),
                             peak_intensity=round(peak, 3), t=t, t_end=t_end,
                             duration_s=duration_s, easing=easing)

    # -- main loop ---------------------------------------------------------------------------
    def run(self, f: FrameInputs) -> list[DetectorEvent]:
        p = self.p
        n = f.good.shape[0]
        events: list[DetectorEvent] = []
        if n == 0:
            return events
        # frames that can leave IDLE: usable, lying, still, elevated; or the first movement
        # after a still discharge (the sleeper waking from it)
        self._record_bursts(f)
        self._measure_residual(f)
        self._find_waking(f)
        quiet_ok = f.good & ~f.upright & ~f.moving
        wake = self._may_start(f, quiet_ok)
        i = 0
        while i < n:
            if self.state is State.IDLE:
                w = int(np.searchsorted(wake, i, side="left"))
                if w >= wake.size:
                    break
                i = int(wake[w])
            k = f.first + i
            trig = self._trigger(f, i, k)
            new = TABLE[(self.state, trig)]
            n_events = len(events)
            raised = self._post_from
            self._act(self.state, trig, new, f, i, k, events)
            self.state = new
            if raised != self._post_from:
                self._thr = self._thresholds()
                self._find_waking(f, start=i + 1)
            if (len(events) > n_events or raised != self._post_from) and new is State.IDLE:
                # a cramp ended, or a candidate's discharge did: the onset threshold is raised
                wake = self._may_start(f, quiet_ok)
            i += 1
        self._carry_cap()
        # keep the raw tail for onset look-back across batches
        look = p.onset_lookback_frames
        self._raw_tail = (self._raw_tail + [float(v) for v in f.raw_level[-look:]])[-look:]
        return events

    def _may_start(self, f: FrameInputs, quiet_ok: np.ndarray) -> np.ndarray:
        """Frames where IDLE may be left: still, lying, usable and elevated, or a movement (its
        artifact included) right after a still discharge."""
        high = f.level >= self._thr
        return np.flatnonzero((quiet_ok & high) | self._woke_at)

    def _find_waking(self, f: FrameInputs, start: int = 0) -> None:
        """Per frame, the frames of still, lying, usable raw discharge (above the onset level
        in force then, raised after a cramp) just before it, and whether a movement there may
        be the sleeper waking from it (:func:`rules.began_still`, counted from the raw run's
        start; the smoothed level would lag it by up to smooth_s, and the pain wakes the
        sleeper from 1.5 s on). ``start``: the onset level changed at this frame of the batch,
        so only frames from it on are classified anew. Carried across batches, so any
        partition gives the same frames."""
        n = f.good.shape[0]
        still = f.good & ~f.upright & ~f.moving & (np.nan_to_num(f.raw_level, nan=-np.inf)
                                                   >= self._thr)
        if start == 0:
            self._run_carry_in, self._motion_carry_in = self._still_run, self._last_motion_carry
        else:
            still = np.concatenate((self._still[:start], still[start:]))
        self._still = still
        idx = np.arange(n)
        last_break = np.maximum.accumulate(np.where(~still, idx, -1))
        runs = np.where(last_break >= 0, idx - last_break, idx + 1 + self._run_carry_in)
        before = np.concatenate(([self._run_carry_in], runs[:-1]))
        motion_before = np.concatenate(([self._motion_carry_in], f.last_motion[:-1]))
        run_start = f.first + idx - before
        self._woke_at = np.asarray(
            (f.moving | f.upright) & (before >= self.p.pre_still_frames)
            & (run_start - motion_before > self.p.after_motion_frames), dtype=bool)
        self._run_before = before
        self._motion_before = motion_before  # the run had no movement: the last one before it
        self._still_run = int(runs[-1])
        self._last_motion_carry = int(f.last_motion[-1])

    def _record_bursts(self, f: FrameInputs) -> None:
        """Remember every completed elevated run of LM length (moving or not) whose level
        peaked like a leg movement as ``(start, end)`` frames: a PLM series shows up as a string
        of them [PLMt]. Weak flickers just over the onset level (fasciculation twitches on a
        raised rest [JAT21], a residual's noise) are not LMs. A run's entry is only used once it
        has ended before a candidate began (causal)."""
        p = self.p
        n = f.good.shape[0]
        elev = f.good & ~f.upright & (f.level >= p.onset_log)
        prev = np.concatenate(([self._prev_elev], elev[:-1]))
        idx = f.first + np.arange(n)
        starts = idx[elev & ~prev]
        ends = idx[~elev & prev]
        # pair each end with the start before it (the carried one for the first)
        all_starts = np.concatenate(([self._run_start_carry], starts))
        pos = np.searchsorted(all_starts, ends, side="right") - 1
        for start, end in zip(all_starts[pos].tolist(), ends.tolist(), strict=True):
            a, b = max(start, f.first) - f.first, end - f.first  # the run's part in this batch
            peak = float(np.max(f.level[a:b])) if b > a else -math.inf
            if start < f.first:
                peak = max(peak, self._run_peak_carry)
            if rules.is_leg_movement_burst(end - start, peak, p.burst_max_frames,
                                           p.burst_peak_log):
                self._bursts.append((int(start), int(end)))
        if starts.size:
            self._run_start_carry = int(starts[-1])
        if elev[-1]:
            a = max(self._run_start_carry, f.first) - f.first
            peak = float(np.max(f.level[a:]))
            self._run_peak_carry = (max(peak, self._run_peak_carry)
                                    if self._run_start_carry < f.first else peak)
        else:
            self._run_peak_carry = -math.inf
        self._prev_elev = bool(elev[-1])
        horizon = f.first + n - 2 * p.plm_window_frames
        self._bursts = [b for b in self._bursts if b[1] > horizon]

    def _measure_residual(self, f: FrameInputs) -> None:
        """This batch's measured residual, as ``log(excess power) + frame / tau`` per frame
        (``inf`` where unknown), and the onset thresholds it gives."""
        n = f.good.shape[0]
        self._first = f.first
        m = np.maximum(np.nan_to_num(f.measured_level, nan=np.inf), 0.0)
        with np.errstate(divide="ignore"):
            excess = np.log(np.expm1(2.0 * m))
        self._meas_u = excess + (f.first + np.arange(n)) / self.p.post_tau_frames
        self._thr = self._thresholds()

    def _thresholds(self) -> FloatArray:
        """Onset threshold (log) at each frame of the batch (:func:`rules.post_cramp_excess_log`,
        :func:`rules.onset_with_excess`): the plain onset level until a cramp raised it. Keeps
        the running minimum of the measured residual since the raise per frame
        (``self._cap``), which :meth:`_carry_cap` carries into the next batch."""
        n = self._meas_u.shape[0]
        k = self._first + np.arange(n)
        start = min(max(self._post_from - self._first, 0), n)
        self._cap = np.full(n, np.inf)
        self._cap[start:] = np.minimum.accumulate(self._meas_u[start:])
        if self._post_from < self._first:
            self._cap = np.minimum(self._cap, self._cap_u)
        if self._post_base <= 0.0:
            return np.full(n, self.p.onset_log)
        excess = rules.post_cramp_excess_log(
            self._post_base, np.asarray(k - self._post_from, dtype=np.float64),
            self.p.post_tau_frames, self._cap, k.astype(np.float64))
        return rules.onset_with_excess(self.p.onset_log, excess)

    def _carry_cap(self) -> None:
        """Carry the running minimum of the measured residual since the raise into the next
        batch (block-size invariance): its value at the batch's last frame."""
        self._cap_u = float(self._cap[-1])

    def _onset_thr_at(self, k: int) -> float:
        """The onset threshold at frame ``k`` of this batch."""
        return float(self._thr[k - self._first])

    # -- classifying a frame (reads the state, never changes it) ------------------------------
    def _trigger(self, f: FrameInputs, i: int, k: int) -> Trigger:
        if self.state in (State.CRAMP, State.CRAMP_DIP):
            return self._cramp_trigger(f, i, k)
        if self.state is State.CANDIDATE:
            return self._candidate_trigger(f, i, k)
        good = bool(f.good[i])
        high = good and rules.is_elevated(float(f.level[i]), self._onset_thr_at(k))
        if self._woke_at[i]:  # the still discharge before it, not the movement, counts
            return Trigger.WOKE
        if not good:
            return Trigger.BAD
        if f.moving[i] or f.upright[i]:
            return Trigger.UPRIGHT if f.upright[i] else Trigger.MOVE
        return Trigger.HIGH if high else Trigger.LOW

    def _cramp_trigger(self, f: FrameInputs, i: int, k: int) -> Trigger:
        p = self.p
        if not f.good[i]:
            since = self._bad_since if self._bad_since >= 0 else k
            return Trigger.LOST if rules.signal_lost(k - since + 1, p.lost_frames) else Trigger.BAD
        if f.upright[i]:
            since = self._up_since if self._up_since >= 0 else k
            return (Trigger.STOOD if rules.walked_off(k - since + 1, p.upright_end_frames)
                    else Trigger.UPRIGHT)
        level = float(f.level[i])
        rebound = p.end_rebound_log if self.state is State.CRAMP_DIP else 0.0
        if level >= self._end_log + rebound:  # hysteresis: a dip survives small pops
            return Trigger.HIGH
        if (self.state is State.CRAMP_DIP
                and rules.lull_ended(k - self._low_since + 1, p.end_hold_frames)
                and rules.has_levelled_off([v for _, v in self._dip] + [level],
                                           p.plateau_frames, p.plateau_drop_log)):
            return Trigger.END
        return Trigger.LOW

    def _candidate_trigger(self, f: FrameInputs, i: int, k: int) -> Trigger:
        p = self.p
        moved = bool(f.moving[i] or f.upright[i])
        if not f.good[i]:
            # a discharge that began with the leg still outlives the movement artifact of
            # the sleeper waking from it [CS] (like the movement itself, below), briefly;
            # bad signal without that movement (a lead coming off) still drops it
            since = self._bad_since if self._bad_since >= 0 else k
            woke = self._woken or (bool(f.moving[i]) and self._began_still(k))
            if woke and rules.outlives_waking_artifact(k - since + 1, p.candidate_bad_frames):
                return Trigger.BAD
            return Trigger.DROP
        level = float(f.level[i])
        if moved:
            # motion may delay confirmation, never veto a discharge that began with the leg
            # still: the sleeper woke from it [CS]
            if self._began_still(k):
                return self._confirm_or_high(f, i, k, level)
            return Trigger.UPRIGHT if f.upright[i] else Trigger.MOVE
        if self._woken and self._fell_to_residual(k, level):
            # only after the movement of waking: a still candidate's own dips (a weak cramp
            # waxing and waning) are judged against the onset level, below
            return Trigger.OVER
        if not rules.is_elevated(level, self._onset_thr_at(k)):
            low_since = self._low_since if self._low_since >= 0 else k
            return Trigger.DROP if k - low_since + 1 > p.candidate_dip_frames else Trigger.LOW
        return self._confirm_or_high(f, i, k, level)

    def _evidence(self) -> list[float]:
        """The candidate's levels before its fall to the residual (if under way), led in by the
        raw levels from its onset estimate to its start (the smoothing's lag)."""
        return self._lead_in + self._levels[:self._levels_at_over or None]

    def _strength(self) -> float:
        """The candidate's own strength: the lower quartile of its smoothed levels while the
        leg was still, as for a cramp's end threshold: a stretch's surge [RT95] does not lift
        it, and a movement's voluntary EMG is not the cramp's (the raw lead-in, higher than the
        smoothed low quantile, only when there are none) (log)."""
        levels = sorted(self._still_levels or self._lead_in)
        return levels[len(levels) // 4] if levels else 0.0

    def _fell_to_residual(self, k: int, level: float) -> bool:
        """The still level has been below the candidate's :func:`rules.is_over` level for more
        than ``candidate_dip_frames`` (including this frame)."""
        if not rules.is_over(level, self._strength(), self.p.over_fraction):
            return False
        since = self._over_since if self._over_since >= 0 else k
        return k - since + 1 > self.p.candidate_dip_frames

    def _began_still(self, k: int) -> bool:
        """The candidate woke the sleeper, or has been still long enough (``pre_still_frames``,
        not right after other movement) that a movement now is the waking, not its cause
        (:func:`rules.began_still`, counted from the discharge's own onset, the raw level's
        rise, not from the smoothed candidate start, which lags it by up to smooth_s)."""
        p = self.p
        return self._woken or rules.began_still(
            k - self._k_onset, p.pre_still_frames, self._k0 - self._motion_before_k0,
            p.after_motion_frames, rules.is_noise_like(self._shares, p.flat_shape))

    def _confirm_or_high(self, f: FrameInputs, i: int, k: int, level: float) -> Trigger:
        """CONFIRM once the candidate lasted its :meth:`_need`, its level over that span was
        sustained (:func:`rules.is_sustained`) and its excess is not white noise
        (:func:`rules.is_noise_like`, averaged over the whole candidate frame by frame: one
        frame's share is noisy, and one loud frame must not outvote the others); HIGH before."""
        p = self.p
        need = self._need(f, i)
        if k - self._k0 + 1 < need:
            return Trigger.HIGH
        recent = self._levels[-(need - 1):] if need > 1 else []
        if not rules.is_sustained([*recent, level], self._onset_thr_at(k), p.confirm_margin_log):
            return Trigger.HIGH
        share = float(f.upper_share[i])
        if rules.is_noise_like(self._shares + ([share] if math.isfinite(share) else []),
                               p.flat_shape):
            return Trigger.HIGH
        return Trigger.CONFIRM

    def _need(self, f: FrameInputs, i: int) -> int:
        """Frames a candidate must last (:func:`rules.confirmation_frames`)."""
        p = self.p
        recent = [b for b in self._bursts
                  if b[1] < self._k0 - p.plm_gap_frames and self._k0 - b[0] <= p.plm_window_frames]
        return rules.confirmation_frames(
            confirm_frames=p.confirm_frames,
            after_motion=self._k0 - int(self._motion_before_k0) <= p.after_motion_frames,
            after_motion_frames=p.after_motion_confirm_frames,
            plm_bursts=len(recent), plm_min_bursts=p.plm_min_bursts,
            plm_confirm_frames=p.plm_confirm_frames,
            blind=bool(f.blind[i]), blind_confirm_frames=p.blind_confirm_frames)

    def _worth_recording(self, f: FrameInputs, i: int, fall: int, fall_thr: float) -> bool:
        """A candidate whose discharge is over was a cramp if, from its onset to its fall
        (frame ``fall``), it lasted as long as it needed to be confirmed (:meth:`_need`: a
        leg movement of a PLM series is not recorded either) with a sustained, EMG-shaped
        level."""
        p = self.p
        return (fall - self._k_onset >= self._need(f, i)
                and rules.is_sustained(self._evidence(), fall_thr, p.confirm_margin_log)
                and not rules.is_noise_like(self._shares[:self._shares_at_over or None],
                                            p.flat_shape))

    def _add_share(self, f: FrameInputs, i: int) -> None:
        share = float(f.upper_share[i])
        if math.isfinite(share):
            self._shares.append(share)

    # -- acting on a transition --------------------------------------------------------------
    def _act(self, old: State, trig: Trigger, new: State, f: FrameInputs, i: int, k: int,
             events: list[DetectorEvent]) -> None:
        if old is State.IDLE and new is State.CANDIDATE:
            self._begin_candidate(trig, f, i, k)
        elif old is State.CANDIDATE:
            self._act_candidate(trig, new, f, i, k, events)
        elif old in (State.CRAMP, State.CRAMP_DIP):
            self._act_cramp(old, trig, new, f, i, k, events)

    def _begin_candidate(self, trig: Trigger, f: FrameInputs, i: int, k: int) -> None:
        p = self.p
        self._woken = trig is Trigger.WOKE
        if self._woken:  # it began where the still discharge did, before this movement
            self._k0 = k - int(self._run_before[i])
            self._motion_before_k0 = int(self._motion_before[i])
            self._t_onset = round(self._t(self._k0), 3)
        else:
            self._k0 = k
            self._motion_before_k0 = int(f.last_motion[i])
            self._t_onset = self._onset(f, i, k)
        self._k_onset = round(self._t_onset / p.frame_s)
        self._bad_since = -1 if f.good[i] else k
        self._low_since = -1
        self._over_since = -1
        self._levels_at_over = 0
        # its evidence before it began: the raw levels since its onset (a waking candidate's
        # still run, all above the onset level)
        self._lead_in = self._raw_before(f, i, k - self._k_onset)
        self._levels = []
        self._still_levels = []
        self._shares = []
        self._shares_at_over = 0
        if f.good[i]:
            self._levels.append(float(f.level[i]))
            self._add_share(f, i)
            if not (f.moving[i] or f.upright[i]):
                self._still_levels.append(float(f.level[i]))

    def _raw_before(self, f: FrameInputs, i: int, n: int) -> list[float]:
        """Raw levels of the ``n`` frames before frame ``i`` (at most onset_lookback_frames)."""
        n = min(n, self.p.onset_lookback_frames)
        head = self._raw_tail[len(self._raw_tail) - max(n - i, 0):] if n > i else []
        return head + [float(v) for v in f.raw_level[max(0, i - n):i]]

    def _act_candidate(self, trig: Trigger, new: State, f: FrameInputs, i: int, k: int,
                       events: list[DetectorEvent]) -> None:
        p = self.p
        level = float(f.level[i])
        if trig is Trigger.BAD:
            self._woken = True
            if self._bad_since < 0:
                self._bad_since = k
            return
        self._bad_since = -1
        if new is State.IDLE:
            recorded = False
            if trig is Trigger.OVER or (trig is Trigger.DROP and f.good[i]):
                fall, fall_thr = ((self._over_since, self._thr_over) if trig is Trigger.OVER
                                  else (self._low_since, self._thr_low))
                if fall < 0:
                    fall, fall_thr = k, self._onset_thr_at(k)
                # only a cramp that movement hid: a still candidate that dips below the onset
                # level was not sustained (a fasciculation prelude [JAT21], a PLM series' LM)
                recorded = self._woken and self._worth_recording(f, i, fall, fall_thr)
                if recorded:
                    self._record(fall, k, events)
            if self._woken or recorded:
                # the residual of the discharge that woke the sleeper is no new cramp (after
                # bad signal, of unknown level: the usual ~2× [CS])
                residual = max(level, 0.0) if f.good[i] else p.post_base_log
                self._post_base, self._post_from = residual, k
            self._levels = []
            return
        if f.moving[i] or f.upright[i]:  # the discharge began still: the sleeper woke from it
            self._woken = True
        self._levels.append(level)
        self._add_share(f, i)
        if new is State.CRAMP:
            self._start(k, events)
            return
        if trig is Trigger.LOW:
            if self._low_since < 0:
                self._low_since = k
                self._thr_low = self._onset_thr_at(k)
        elif trig is Trigger.HIGH:
            self._low_since = -1
        if f.moving[i] or f.upright[i]:
            return
        if rules.is_over(level, self._strength(), p.over_fraction):
            if self._over_since < 0:
                self._over_since = k
                self._thr_over = self._onset_thr_at(k)
                self._levels_at_over = len(self._levels) - 1
                self._shares_at_over = len(self._shares)
        else:
            self._over_since = -1
            self._levels_at_over = 0
            self._shares_at_over = 0
            self._still_levels.append(level)

    def _record(self, fall: int, k: int, events: list[DetectorEvent]) -> None:
        """One ``cramp_recorded``: dated from the candidate's onset to its fall (the smoothing
        delays the fall by smooth_delay_s), recognised at frame ``k``."""
        p = self.p
        self.cramps += 1
        self._levels = self._evidence()
        self._t_detect = round(self._t(k + 1), 3)
        self._peak = float(np.exp(max(self._levels)))
        t_end = round(max(self._t(fall) - p.smooth_delay_s, self._t_onset), 3)
        events.append(self._event(EventKind.CRAMP_RECORDED, k, t_end=t_end,
                                  duration_s=round(t_end - self._t_onset, 3)))
        self._peak = 0.0

    def _act_cramp(self, old: State, trig: Trigger, new: State, f: FrameInputs, i: int, k: int,
                   events: list[DetectorEvent]) -> None:
        p = self.p
        level = float(f.level[i])
        if trig is Trigger.BAD:
            if self._bad_since < 0:
                self._bad_since = k
            return
        if trig is Trigger.LOST:
            self._end(self._t(self._last_good + 1), events)
            self._post_base, self._post_from = p.post_base_log, k
            return
        if trig is Trigger.UPRIGHT:
            if self._up_since < 0:
                self._up_since = k
                self._up_levels = []
            self._up_levels.append((k, level))
            return
        if trig is Trigger.STOOD:
            # walking relieves it [NHS]: it is over once walked on for upright_end_frames, and
            # ended where its own level between the steps fell below its end threshold
            self._up_levels.append((k, level))
            j = rules.walked_off_since([v for _, v in self._up_levels], self._end_log)
            t_end = self._t(k) if j >= len(self._up_levels) else (
                self._t(self._up_levels[j][0]) - p.smooth_delay_s)
            self._end(t_end, events)
            # its fall to the residual was hidden by gait: the residual stays under the cramp's
            # own end threshold (<= 40 % of its excess [issue 15, CS]), at least the usual ~2×
            self._post_base = rules.walked_off_residual(self._end_log, p.post_base_log)
            self._post_from = k
            return
        self._up_since = -1
        self._bad_since = -1
        self._last_good = k
        self._levels.append(level)
        self._peak = max(self._peak, math.exp(level))
        if trig is Trigger.HIGH:
            self._low_since = -1
            for _, v in self._dip:  # the dip was part of the cramp after all
                bisect.insort(self._sorted, v)
            self._dip = []
            if old is State.CRAMP_DIP and p.update_frames:  # a lull, not the end
                events.append(self._event(EventKind.CRAMP_UPDATE, k, t=self._t(k + 1),
                                          easing=False))
                self._next_update = k + p.update_frames
        elif trig is Trigger.LOW:
            if old is State.CRAMP:
                self._low_since = k
                self._levels_at_dip = len(self._levels) - 1
                if p.update_frames:  # may be the end: a prompt can stop urging the hold
                    events.append(self._event(EventKind.CRAMP_UPDATE, k, t=self._t(k + 1),
                                              easing=True))
            self._dip.append((k, level))
        elif trig is Trigger.END:
            self._dip.append((k, level))
            plateau = float(np.mean([v for _, v in self._dip[-p.plateau_frames // 2:]]))
            first = next(j for j, v in self._dip if v <= plateau + p.plateau_margin_log)
            del self._levels[self._levels_at_dip:]
            # the smoothing delays the fall by smooth_delay_s
            self._end(self._t(first) - p.smooth_delay_s, events)
            self._post_base, self._post_from = max(plateau, 0.0), k
            return
        if new is State.CRAMP and p.update_frames and k >= self._next_update:
            self._next_update = k + p.update_frames
            events.append(self._event(EventKind.CRAMP_UPDATE, k, t=self._t(k + 1)))
        if new is State.CRAMP:  # the threshold stays frozen while a dip is under way
            bisect.insort(self._sorted, level)
            self._end_log = self._end_threshold()

    def _end_threshold(self) -> float:
        """:func:`rules.end_threshold` of the cramp's lower-quartile level so far."""
        p = self.p
        return rules.end_threshold(self._sorted[len(self._sorted) // 4], p.end_fraction,
                                   p.end_log_min, p.end_log_max)


    def _onset(self, f: FrameInputs, i: int, k: int) -> float:
        """Onset estimate at candidate start ``k``: the earliest frame of the contiguous raw run
        above threshold that leads into it (up to ``onset_lookback_frames`` back)."""
        p = self.p
        look = p.onset_lookback_frames
        head = self._raw_tail if i < look else []
        raw = head + [float(v) for v in f.raw_level[max(0, i - look): i + 1]]
        j = len(raw) - 1
        limit = max(0, j - p.onset_lookback_frames)
        while j - 1 >= limit and raw[j - 1] >= p.onset_log:
            j -= 1
        return round(self._t(k - (len(raw) - 1 - j)), 3)

    def _start(self, k: int, events: list[DetectorEvent]) -> None:
        p = self.p
        self.cramps += 1
        self._t_detect = round(self._t(k + 1), 3)
        self._peak = float(np.exp(max(self._levels)))
        self._low_since = -1
        self._bad_since = -1
        self._last_good = k
        self._next_update = k + p.update_frames
        self._sorted = sorted(self._levels)
        self._end_log = self._end_threshold()
        events.append(self._event(EventKind.CRAMP_STARTED, k))

    def _end(self, t_end: float, events: list[DetectorEvent]) -> None:
        t_end = round(max(t_end, self._t_onset), 3)
        events.append(self._event(EventKind.CRAMP_ENDED, 0, t_end=t_end,
                                  duration_s=round(t_end - self._t_onset, 3)))
        self._levels = []
        self._dip = []
        self._peak = 0.0
        self._low_since = -1
        self._bad_since = -1
        self._up_since = -1

    def finish(self, next_frame: int) -> list[DetectorEvent]:
        """End an open cramp at the end of the stream (``next_frame`` = frames processed)."""
        events: list[DetectorEvent] = []
        if self.state in (State.CRAMP, State.CRAMP_DIP):
            t_end = self._t(self._low_since) if self.state is State.CRAMP_DIP else self._t(
                next_frame)
            self._end(t_end, events)
        self.state = State.IDLE
        return events
