"""The cramp rules, one named predicate each, as a physiotherapist would read them.

Every rule is a pure function of what it is given (levels are natural logs of the EMG envelope
over the rest floor, times are frame counts): it reads the setting named in its docstring, cites
where the number comes from (``shared/notes/physiology.md``), and changes nothing. The state
machine (:mod:`detector.state_machine`) only calls these to classify a frame and keeps the state
itself; the settings live in :class:`detector.settings.DetectorSettings`, grouped by concern,
and the numbers that are not settings are the constants below.

Sources: [CS] the only ambulatory calf-EMG record of real nocturnal cramps (+100..800 % over
rest, without movement for 41 ± 11 s before waking, ~2× rest afterwards); [JAT21] pre-cramp
fasciculation; [PLMt, WASM16] leg movements 0.5-10 s, 5-90 s apart; [Min09] motor units
active 23.6 ± 16.2 s; [NHS] standing and walking relieve a cramp; [RT95] a stretch raises the
EMG while breaking the cramp.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import numpy as np

from detector.types import FloatArray

# Not settings: each of these moved no figure of the pooled nights at 0.5× and 1.5× (issue 15,
# BENCHMARKS.md "the ±50 % sweep of the detector settings"), so they are fixed here, with why
# they are what they are. Seconds; the pipeline converts them to frames.

# Without accelerometer data (an EMG-only recording, a failed IMU) a still-looking run must last
# this long (s): the movement vetoes are blind, so it must outlast the longest leg movement
# (10 s [PLMt]) and a turn's EMG burst (:func:`confirmation_frames`).
BLIND_CONFIRM_S = 12.0
# An elevated run counts towards a PLM series only when it ended at least this long (s) before
# the candidate (LMs are 5-90 s apart onset to onset [PLMt]; a blip on a cramp's own ramp is not
# an LM).
PLM_GAP_S = 2.0
# A candidate that began with the leg still (``pre_still_s``) and then moved survives bad signal
# up to this long (s): the movement artifact of the sleeper waking from the cramp [CS], a turn
# of 3-45 s [IRL21] plus ``quality_hold_s``, held like a cramp's bad signal (LOST_S). When the
# signal is back it is confirmed if the discharge goes on, recorded if it is over. Bad signal
# without movement (a lead coming off) still drops it (:func:`outlives_waking_artifact`).
CANDIDATE_BAD_S = 30.0
# A cramp ends (at the last good frame) after this long without usable signal (s)
# (:func:`signal_lost`).
LOST_S = 30.0
# Time constant (s) with which the post-cramp raise of the onset level decays, both the residual
# assumed at the cramp's end and the residual measured since (``post_cramp_measure_s``):
# soreness fades over minutes to hours [NHS]. It stopped moving any figure once the raise was
# capped by the measured residual (:func:`post_cramp_excess_log`).
POST_CRAMP_TAU_S = 1800.0


def is_elevated(level: float, onset_log: float) -> bool:
    """The calf discharges above rest: ``onset_ratio`` (× floor) [CS: cramps are +100..800 %].
    ``onset_log`` is already raised after a cramp by its residual (:func:`onset_with_excess`)."""
    return level >= onset_log


def post_cramp_excess_log(residual_log: float, frames_since: FloatArray, tau_frames: float,
                          cap_u: FloatArray, frames: FloatArray) -> FloatArray:
    """The log of the residual's excess power (ratio² − 1) that raises the onset level at
    ``frames`` (absolute), ``frames_since`` the cramp ended (``post_cramp_ratio``,
    ``POST_CRAMP_TAU_S``, ``post_cramp_measure_s``): the residual it left decaying with
    ``tau_frames``, but never above the residual measured since, itself decaying from where it
    was measured. ``cap_u`` is the running minimum of ``log(measured excess) + frame / tau``
    since the cramp ended (``inf`` before any measurement), so the cap at a frame is
    ``cap_u − frame / tau``: how long the ~2× residual [CS] lasts is not known, so it is
    measured rather than assumed."""
    model = (math.log(math.expm1(2.0 * residual_log)) if residual_log > 0.0 else -math.inf)
    model_log = model - np.maximum(frames_since, 0) / tau_frames
    out: FloatArray = np.minimum(model_log, cap_u - frames / tau_frames)
    return out


def onset_with_excess(onset_log: float, excess_log: FloatArray) -> FloatArray:
    """The onset level raised by a residual of excess power ``exp(excess_log)`` (ratio² − 1;
    :func:`post_cramp_excess_log`). The residual's excess *power* adds to the onset level's,
    because a new discharge and the residual are independent sources whose powers add: a +80 %
    onset on a 2× residual is sqrt(1.8² + 2² − 1) = 2.5×, not 1.8 × 2 = 3.6× (which hid
    recurrences, frequent in the hour after a cramp [TF17])."""
    out: FloatArray = 0.5 * np.log(np.exp(2.0 * onset_log) + np.exp(excess_log))
    return out


def is_sustained(levels: Sequence[float], onset_log: float, margin_log: float) -> bool:
    """The candidate's median level over its confirmation span reached ``confirm_ratio`` (the
    onset level × this margin): cramp discharge is +100..800 % [CS], while pre-cramp
    fasciculation [JAT21] or a wandering baseline hovers at the onset level."""
    return bool(levels) and statistics.median(levels) >= onset_log + margin_log


def is_noise_like(shares: Sequence[float], flat_shape: float) -> bool:
    """The candidate's excess over rest has a flat (white) spectrum, the thermal noise of a poor
    contact, not band-limited EMG (``flat_spectrum_ratio``): its mean share above the spectral
    split reaches that of a ratio of ``flat_shape`` (above / below)."""
    flat = flat_shape / (1.0 + flat_shape)
    return bool(shares) and sum(shares) / len(shares) >= flat


def began_still(frames_since_onset: int, pre_still_frames: int, quiet_before_frames: int,
                after_motion_frames: int, noise_like: bool) -> bool:
    """A movement now is the sleeper waking from the discharge, not its cause
    (``pre_still_s``, ``after_motion_window_s``): the discharge began this long before the
    movement, with the leg still before it. A voluntary movement starts with its EMG
    (electromechanical delay of tens of ms), and the pain wakes the sleeper within seconds of
    the full onset [CS]; a discharge right after other movement may be that movement's own, and
    a "discharge" with a flat spectrum was a poor contact's noise."""
    return (frames_since_onset >= pre_still_frames
            and quiet_before_frames > after_motion_frames and not noise_like)


def confirmation_frames(*, confirm_frames: int, after_motion: bool, after_motion_frames: int,
                        plm_bursts: int, plm_min_bursts: int, plm_confirm_frames: int,
                        blind: bool, blind_confirm_frames: int) -> int:
    """How long a candidate must last to be a cramp: ``confirm_s``; right after movement (a turn,
    a stretch) ``after_motion_confirm_s``; in a series of leg movements it must outlast the
    longest LM (``plm_confirm_s``, LM 0.5-10 s [PLMt]); without accelerometer data, when movement
    cannot veto anything, :data:`BLIND_CONFIRM_S`."""
    need = confirm_frames
    if after_motion:
        need = max(need, after_motion_frames)
    if plm_bursts >= plm_min_bursts:
        need = max(need, plm_confirm_frames)
    if blind:
        need = max(need, blind_confirm_frames)
    return need


def is_leg_movement_burst(frames: int, peak_log: float, burst_max_frames: int,
                          burst_peak_log: float) -> bool:
    """An elevated run that may be a leg movement of a PLM series: at most ``plm_burst_max_s``
    long (LM 0.5-10 s [PLMt]) and peaking at least ``plm_burst_peak_ratio`` (an LM starts
    >= 8 µV above a resting EMG of a few µV [PLMt]; fasciculation twitches on a raised rest
    [JAT21] only flicker over the onset level)."""
    return 1 <= frames <= burst_max_frames and peak_log >= burst_peak_log


def excess_fraction_log(level_log: float, fraction: float) -> float:
    """The level at rest + ``fraction`` × the excess over rest of ``level_log`` (both logs):
    how a cramp's own strength sets its thresholds (the residual after a cramp is ~2× rest
    [CS], a weak cramp +100 % is barely above it, so a multiple of rest alone cannot tell)."""
    return math.log1p(fraction * max(math.expm1(level_log), 0.0))


def end_threshold(lower_quartile_log: float, fraction: float, min_log: float,
                  max_log: float) -> float:
    """A cramp may end below ``end_fraction`` of its own lower-quartile excess over rest (a
    stretch surge [RT95] does not lift it), never above ``end_ratio_max`` (the ~2× residual must
    end it [CS]) nor below ``end_ratio_min``."""
    return max(min_log, min(max_log, excess_fraction_log(lower_quartile_log, fraction)))


def is_over(level: float, strength_log: float, over_fraction: float) -> bool:
    """A candidate's discharge is over (``over_fraction``): its level fell below rest + this
    fraction of the excess of its own strength (``strength_log``, its lower-quartile level). The
    residual a cramp leaves stays at most ~40 % of its plateau excess [CS: ~2× rest after
    +100..800 %], so a candidate on that residual is the cramp that has ended, not a new one."""
    return level < excess_fraction_log(strength_log, over_fraction)


def has_levelled_off(dip: Sequence[float], plateau_frames: int, drop_log: float) -> bool:
    """The fall has reached the residual plateau (``plateau_s``, ``plateau_drop``): the later
    half of the last ``plateau_frames`` levels is not lower than the earlier half by more than
    ``drop_log``."""
    vals = list(dip[-plateau_frames:])
    if len(vals) < plateau_frames:
        return False
    h = plateau_frames // 2
    return statistics.fmean(vals[:h]) - statistics.fmean(vals[-h:]) <= drop_log


def lull_ended(dip_frames: int, end_hold_frames: int) -> bool:
    """A dip below the end threshold is the end, not a lull, once it lasted ``end_hold_s``: motor
    units rotate, each active 23.6 ± 16.2 s [Min09], so shorter lulls are one cramp."""
    return dip_frames >= end_hold_frames


def walked_off(upright_frames: int, upright_end_frames: int) -> bool:
    """Standing with weight on the leg and walking relieve a cramp [NHS]: upright for
    ``upright_end_s`` inside a cramp ends it."""
    return upright_frames >= upright_end_frames


def walked_off_since(upright_levels: Sequence[float], end_log: float) -> int:
    """Where a cramp walked off ended (``upright_end_s``): the index into ``upright_levels``
    (the smoothed levels of its upright frames, oldest first) from which, counting back from
    the latest, frames below the end threshold never fell behind those above it; ``len`` if the
    latest is above. The smoothed level is a low quantile over smooth_s, so between gait's
    push-off bursts [physiology.md §2] it shows the calf's continuous discharge, the cramp."""
    balance = 0
    start = len(upright_levels)
    for j in range(len(upright_levels) - 1, -1, -1):
        balance += 1 if upright_levels[j] < end_log else -1
        if balance < 0:
            break
        if upright_levels[j] < end_log:
            start = j
    return start


def walked_off_residual(end_log: float, usual_log: float) -> float:
    """The residual assumed after a cramp walked off (``post_cramp_ratio``, ``end_fraction``):
    gait hid its fall, so it is taken as the cramp's own end threshold, where a cramp lying
    still would have ended (the residual stays at most ~40 % of the cramp's excess [issue 15,
    CS]), and at least the usual ~2× [CS]. A strong cramp's residual is then not mistaken for a
    new cramp when the sleeper lies down again; the measured residual
    (:func:`post_cramp_excess_log`) lowers it as it fades."""
    return max(end_log, usual_log)


def signal_lost(bad_frames: int, lost_frames: int) -> bool:
    """No usable signal for :data:`LOST_S`: the cramp is ended at its last good frame."""
    return bad_frames >= lost_frames


def outlives_waking_artifact(bad_frames: int, candidate_bad_frames: int) -> bool:
    """A candidate that woke the sleeper survives the bad signal of the waking movement's
    artifact up to :data:`CANDIDATE_BAD_S` (waking 1-8 s into the cramp [CS], plus the quality
    hold); bad signal without that movement (a lead coming off) drops it."""
    return bad_frames <= candidate_bad_frames
