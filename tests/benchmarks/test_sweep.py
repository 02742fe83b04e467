"""The ±50 % sweep's values: default × (1 ∓ factor), clamped to the setting's documented range."""

from __future__ import annotations

from benchmarks.sweep import NOT_TUNINGS, describe, swept_values


def test_values_are_the_default_scaled_and_clamped_to_the_range() -> None:
    assert swept_values("confirm_s", 0.5) == (3.0, 9.0)
    # frame_s 0.5 has its range's floor at 0.5: the low value cannot go below it
    assert swept_values("frame_s", 0.5) == (0.5, 0.75)
    # emg_band_low_hz 40 × 1.5 = 60, the range's top; × 2 would be 80
    assert swept_values("emg_band_low_hz", 1.0) == (5.0, 60.0)


def test_an_integer_setting_moves_at_least_one_step() -> None:
    assert swept_values("plm_min_bursts", 0.5) == (1, 2)  # 0.5 and 1.5 round to the default


def test_a_refused_value_reads_as_the_reason() -> None:
    assert describe("refused (no clean bins)") == "refused (no clean bins)"
    figs = ("98.2%", "98.2%", 1, "7.0", "11.9", "1.3", "29.9", 9, 0)
    assert describe(figs) == (
        "98.2% / 98.2%, FA 1, lat 7.0/11.9, end 1.3/29.9, frag 9, false rec 0"
    )
    assert {"shank_axis", "min_emg_rate_hz"} == NOT_TUNINGS
