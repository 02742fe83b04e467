"""Detector settings: every threshold with its meaning, unit in the name, and range.

Defaults are what the benchmarks chose (see BENCHMARKS.md, section "Detector"). Ratios are
multiples of the per-night rest floor (band RMS / rest-floor RMS), so no per-person calibration.
A number that moved no figure when swept ±50 % (issue 15, BENCHMARKS.md) is no setting: it is a
constant of the module whose rule it feeds, documented there (e.g. ``detector.rules.LOST_S``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


def _f(default: float, doc: str, lo: float, hi: float) -> float:
    return field(default=default, metadata={"doc": doc, "min": lo, "max": hi})


def _i(default: int, doc: str, lo: int, hi: int) -> int:
    return field(default=default, metadata={"doc": doc, "min": lo, "max": hi})


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectorSettings:
    min_emg_rate_hz: float = _f(
        400.0, "Refuse EMG sampled slower than this (Hz): the EMG band needs it.", 200.0, 10000.0)
    # --- frames and spectrum -------------------------------------------------------------------
    frame_s: float = _f(
        0.5, "Feature frame length (s), hop = length. 0.5 s gives 2 Hz bins, so every 50/60 Hz "
        "harmonic falls on a bin.", 0.5, 2.0)
    emg_band_low_hz: float = _f(
        40.0, "Lower edge of the EMG band (Hz). Above SENIAM's 10-20 Hz [KAAP] on purpose: it "
        "also drops the ECG QRS (energy mostly below 40 Hz) besides motion artefact and "
        "baseline wander [DL10, vB01]; calf EMG's median frequency is 77-104 Hz.", 5.0, 60.0)
    emg_band_high_hz: float = _f(
        230.0, "Upper edge of the EMG band (Hz). Kept below the 250 Hz Nyquist of 500 Hz EMG so "
        "every supported rate measures the same band (median frequency 77-104 Hz).", 100.0, 500.0)
    mains_drift_hz: float = _f(
        0.5, "Mains frequency tolerance (Hz): harmonic h is excluded over ±(halfwidth + h × this) "
        "[Mew04: ±0.5 Hz].", 0.0, 2.0)
    mains_halfwidth_hz: float = _f(
        4.0, "Half-width (Hz) excluded around each mains harmonic (Hann main lobe = ±2 bins).",
        1.0, 10.0)
    mains_visible_ratio: float = _f(
        2.0, "A frame votes when a family's excess power exceeds this × the EMG floor of its bins.",
        0.1, 100.0)
    shape_split_low_hz: float = _f(
        110.0, "Spectral shape: the clean EMG-band bins up to this (Hz) …", 60.0, 150.0)
    shape_split_high_hz: float = _f(
        140.0, "… are compared with those from this (Hz) to the band's top: surface EMG is "
        "band-limited (calf median frequency 77-104 Hz; per-bin power above 140 Hz vs below "
        "110 Hz: median 0.03-0.40 on the real clips while active, computed), while the noise of "
        "a poor contact is the thermal noise of a raised electrode impedance, white (1.0).",
        100.0, 200.0)
    flat_spectrum_ratio: float = _f(
        0.65, "A candidate whose excess over rest has this spectral shape ratio (above) or "
        "more is contact noise, not a cramp: it is never confirmed, and it does not count as a "
        "discharge that woke the sleeper. Averaged over the candidate's frames as each frame's "
        "share of its excess above the split: white noise 0.5, active surface EMG on the real "
        "clips (Santuz calf/shin, UCI thigh; frames >= 1.8x their rest) 0.02-0.30 (computed); "
        "0.65 is the ratio of the midpoint share, 0.395.", 0.2, 10.0)
    # --- quality gate --------------------------------------------------------------------------
    step_uv: float = _f(
        150.0, "DC step between consecutive frame means that means a contact change (µV).",
        10.0, 1e6)
    hum_ratio: float = _f(
        10.0, "Hum RMS above this × EMG band RMS = hum dominates (quality HUM): the mains bins "
        "are left out of the band, whose estimate stays within +1-2 % up to here even with the "
        "mains 0.45 Hz off a bin, +6 % at ~24×, +46 % at ~70× (measured, BENCHMARKS.md). A "
        "weaker hum does not spoil the EMG, so calling it bad would hide a cramp.", 1.0, 1e4)
    hum_rise: float = _f(
        10.0, "Hum RMS above this × the night's usual hum (lower quartile of 10-s medians over "
        "hum_history_s) = a lifting electrode (quality HUM). Appliances change hum by up to "
        "~5× (two at once more); a poor contact's own noise is recognised by its flat spectrum "
        "(flat_spectrum_ratio), so this only has to catch the clear rises.", 1.5, 1000.0)
    hum_rise_band_ratio: float = _f(
        0.7, "… only when the hum RMS is also above this × the EMG band RMS (the hum "
        "estimate's own noise is ~0.2×) and above 2 µV (detector.pipeline.HUM_RISE_MIN_UV).",
        0.0, 100.0)
    hum_history_s: float = _f(
        3600.0, "History (s) of the usual-hum estimate.", 60.0, 14400.0)
    quality_hold_s: float = _f(
        5.0, "A channel stays bad this long (s) after its last bad frame.", 0.0, 60.0)
    # --- accelerometer -------------------------------------------------------------------------
    shank_axis: int = _i(
        0, "Accelerometer axis along the shank (0 = x, 1 = y, 2 = z), per the wearable's "
        "mounting: ≈ 0 g lying, ≈ 1 g upright.", 0, 2)
    upright_shank_g: float = _f(
        0.7, "Gravity share along the shank above this = upright (standing or sitting; "
        "cos 45° ≈ 0.71).", 0.3, 0.99)
    motion_activity_g: float = _f(
        0.03, "Accelerometer RMS around the frame mean (g) above this = movement (sensor noise "
        "is a few mg [ADXL]).", 0.005, 1.0)
    # --- rest floor ----------------------------------------------------------------------------
    floor_block_s: float = _f(
        10.0, "Rest-floor block (s): one low-quantile statistic per block.", 2.0, 120.0)
    floor_history_s: float = _f(
        1200.0, "Rest-floor history (s): the floor is a low quantile of the blocks in it.",
        60.0, 7200.0)
    floor_block_quantile: float = _f(
        0.2, "Quantile of frame levels within a block.", 0.01, 0.9)
    floor_history_quantile: float = _f(
        0.25, "Quantile of block statistics over the history.", 0.01, 0.9)
    # --- optional calibration (detector.calibration) ------------------------------------------
    calibration_rest_s: float = _f(
        10.0, "A calibration needs at least this much (s) of the leg lying relaxed.", 2.0, 600.0)
    calibration_contraction_ratio: float = _f(
        4.0, "A calibration's voluntary calf contraction must raise a calf channel's EMG at "
        "least this × its rest level, else the electrode is not over the contracting muscle "
        "(a voluntary contraction is tens of times rest [physiology.md §6, UCI]; a misplaced "
        "sensor's detection fell to 33 % [AAN15]).", 1.5, 1000.0)
    calibration_seed_tolerance: float = _f(
        1.4, "The calibrated rest seeds the rest floor (until the night's own exists) only if "
        "the session's first calibration_check_s of usable signal sit within this factor of "
        "it, either way: a floor seeded too low makes rest look raised, so this stays well "
        "under onset_ratio.", 1.05, 10.0)
    calibration_check_s: float = _f(
        5.0, "… that check's length (s of usable signal); no alarm can start before it.",
        0.5, 30.0)
    calibration_mismatch: float = _f(
        2.0, "The night's own rest floor differing from the calibrated rest by more than this "
        "factor (either way) is reported: the electrode moved or its contact changed since "
        "the calibration.", 1.1, 100.0)
    # --- the level: smoothing and onset ----------------------------------------------------------
    smooth_s: float = _f(
        2.5, "Causal running quantile of the log level over this (s): sustained discharge passes, "
        "intermittent twitches and single-frame spikes do not.", 0.5, 10.0)
    smooth_quantile: float = _f(
        0.25, "… the quantile (0.5 = median). Below the median so that pre-cramp fasciculation "
        "twitches [JAT21] do not look sustained.", 0.0, 1.0)
    onset_ratio: float = _f(
        1.8, "Level (× rest floor) that starts a candidate; cramps are +100..800 % [CS].",
        1.1, 20.0)
    # --- confirming a cramp ----------------------------------------------------------------------
    confirm_s: float = _f(
        6.0, "A still, lying, elevated run this long (s) is a cramp …", 0.5, 60.0)
    confirm_ratio: float = _f(
        2.0, "… if its median level over that span reached this (× rest floor, raised like "
        "onset_ratio after a cramp): cramp discharge is +100..800 % [CS], while pre-cramp "
        "fasciculation [JAT21] or a wandering baseline hovers at onset_ratio.", 1.1, 20.0)
    candidate_dip_s: float = _f(
        1.0, "A candidate survives dips below the onset level up to this long (s).", 0.0, 10.0)
    # --- movement: turns, stretches and leg movements (PLM) --------------------------------------
    after_motion_window_s: float = _f(
        10.0, "A run starting within this (s) of movement (turn, stretch) …", 0.0, 120.0)
    after_motion_confirm_s: float = _f(
        8.0, "… must last this long (s) to be a cramp.", 0.5, 60.0)
    plm_window_s: float = _f(
        90.0, "Unconfirmed bursts within this (s) count towards a PLM series (intervals 5-90 s "
        "[PLMt]).", 10.0, 600.0)
    plm_burst_max_s: float = _f(
        12.0, "Elevated runs (moving or still) up to this long (s) count as possible leg "
        "movements (LM 0.5-10 s [PLMt]).", 1.0, 60.0)
    plm_burst_peak_ratio: float = _f(
        2.2, "… and whose level peaked at least this high (× rest floor): an LM starts >= 8 µV "
        "above a resting EMG of a few µV [PLMt], while fasciculation twitches on a raised rest "
        "[JAT21] only flicker over onset_ratio.", 1.0, 20.0)
    plm_min_bursts: int = _i(
        1, "This many recent bursts make a PLM series context.", 1, 20)
    plm_confirm_s: float = _f(
        11.0, "In a PLM series a run must outlast the longest LM (10 s [PLMt]) by this (s).",
        0.5, 60.0)
    # --- waking from the cramp: motion delays, never vetoes --------------------------------------
    pre_still_s: float = _f(
        1.0, "A discharge whose raw level stayed above the onset level (raised after a cramp) "
        "with the leg still and lying for this long (s) before a movement is not vetoed by it: "
        "the sleeper wakes from the cramp [CS], while a voluntary movement starts with its EMG "
        "(electromechanical delay of tens of ms), which can reach into the frame before the "
        "movement but not two: 2 frames of still discharge are not it. The pain wakes the "
        "sleeper from 1.5 s after the full onset [issue 15].", 0.5, 60.0)
    over_candidate_fraction: float = _f(
        0.5, "A candidate that woke the sleeper and whose still level has fallen below rest + "
        "this × its own excess (its lower-quartile level over rest while still; a stretch's "
        "surge does not lift it [RT95]) for candidate_dip_s is over: the residual a cramp "
        "leaves is ~2× rest [CS], at most ~40 % of the cramp's excess. If it lasted its "
        "confirmation time with a sustained level it is logged as cramp_recorded (never "
        "prompted); either way its residual raises the onset level like a cramp's.",
        0.05, 1.0)
    # --- the end, dated by the cramp's own level -------------------------------------------------
    end_fraction: float = _f(
        0.8, "A dip below rest + this × the cramp's lower-quartile excess over rest may end it "
        "(see plateau_*): a weak cramp (+100 %) leaves a residual nearly as high (~2× [CS]).",
        0.05, 1.0)
    end_ratio_min: float = _f(
        1.3, "A cramp never ends while its level stays above this (× rest floor).", 1.0, 10.0)
    end_ratio_max: float = _f(
        3.2, "A dip below this (× rest floor) may always end a cramp: the residual after a "
        "cramp is ~2× [CS].", 1.2, 10.0)
    end_rebound: float = _f(
        0.15, "A dip under way continues until the level rises above the end threshold by more "
        "than this fraction (hysteresis: the residual's noise does not restart the cramp).",
        0.0, 2.0)
    end_hold_s: float = _f(
        40.0, "A cramp ends after its level stayed below the end threshold this long (s); "
        "shorter dips are one cramp: motor units rotate, each active 23.6 ± 16.2 s [Min09], so "
        "a lull up to about one unit's spell (mean + 1 SD ≈ 40 s) is the discharge waxing and "
        "waning, not its end. The end event comes this late; t_end is dated back to where the "
        "fall levelled off.",
        0.5, 60.0)
    plateau_s: float = _f(
        4.0, "The end needs the level to have levelled off (the ~2× residual [CS]) over this (s).",
        1.0, 30.0)
    plateau_drop: float = _f(
        0.05, "… i.e. its later half not lower than the earlier half by more than this fraction.",
        0.0, 1.0)
    plateau_margin: float = _f(
        0.15, "t_end = first time in the dip the level came within this fraction of the plateau.",
        0.0, 2.0)
    upright_end_s: float = _f(
        45.0, "Upright frames inside a cramp are held (gait EMG is not cramp EMG); upright this "
        "long (s) ends it then: standing with weight on the leg and walking relieve it [NHS].",
        1.0, 3600.0)
    # --- after a cramp ---------------------------------------------------------------------------
    post_cramp_ratio: float = _f(
        2.0, "After a cramp walked off, the onset level is raised by this residual (× floor) "
        "[CS: ~2×], after a levelled-off end by the plateau it ended on: the residual's excess "
        "power (ratio² − 1) adds to the onset's, as independent sources' powers add "
        "(confirm_ratio stays as far above the raised onset).", 1.0, 5.0)
    post_cramp_measure_s: float = _f(
        30.0, "… but never above the residual actually measured: the median calf level over "
        "the last this (s), whose excess power caps the raise from then on (decaying over "
        "minutes to hours, detector.rules.POST_CRAMP_TAU_S). How long the ~2× residual "
        "lasts is not known [CS gives its level only]; a raise assumed to outlive it hid weak "
        "recurrences, frequent in the hour after a cramp [TF17].", 5.0, 600.0)
    # --- output ----------------------------------------------------------------------------------
    update_interval_s: float = _f(
        30.0, "Emit cramp_update this often during a cramp (s); 0 = never.", 0.0, 3600.0)
