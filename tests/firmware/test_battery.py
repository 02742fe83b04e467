"""Battery level from the divider (firmware/battery.py)."""

from __future__ import annotations

from firmware import battery


def test_divider_scaling() -> None:
    assert battery.cell_mv(2_100_000, 2.0) == 4200  # 2.1 V at the pin, two equal resistors
    assert battery.cell_mv(1_850_250, 2.0) == 3701


def test_percent_is_monotonic_and_bounded() -> None:
    levels = [battery.percent(mv) for mv in range(3000, 4400, 5)]
    assert levels == sorted(levels)
    assert levels[0] == 0 and levels[-1] == 100
    assert battery.percent(3300) == 0 and battery.percent(4200) == 100
    assert battery.percent(3725) == 32  # halfway between 3700 (25 %) and 3750 (40 %)
    assert all(0 <= battery.percent(mv) <= 100 for mv in (-1, 0, 5000))
