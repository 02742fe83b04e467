"""Battery level (percent) from the cell voltage measured through the board's divider. Pure.

The divider halves the cell voltage (two equal resistors, docs/hardware.md "Wiring") so that a
full 4.2 V cell stays inside the ESP32-S3 ADC's 11 dB range (~0-3.1 V, Espressif ESP32-S3
datasheet §5 "ADC characteristics").
"""

# Resting voltage of a single LiPo cell against remaining charge. An estimate: a typical curve
# for a small 3.7 V pouch cell at low load (shapes vary by cell and age by about ±5 %); the Pi
# only uses the level to warn before a night, not to time the end of one.
LIPO_CURVE_MV = (
    (3300, 0),
    (3500, 5),
    (3600, 10),
    (3700, 25),
    (3750, 40),
    (3800, 55),
    (3850, 65),
    (3950, 80),
    (4050, 90),
    (4150, 98),
    (4200, 100),
)


def cell_mv(pin_uv: int, divider_ratio: float) -> int:
    """Cell voltage (mV) from the ADC pin voltage (µV, ``ADC.read_uv()``) and the divider's
    ratio (cell / pin, 2.0 for two equal resistors)."""
    return int(pin_uv * divider_ratio / 1000 + 0.5)


def percent(mv: int) -> int:
    """Battery Level (0x2A19, u8 0-100 %) from the cell voltage in mV: linear between the
    points of ``LIPO_CURVE_MV``, 0 below and 100 above it."""
    low_mv, low_pct = LIPO_CURVE_MV[0]
    if mv <= low_mv:
        return 0
    for high_mv, high_pct in LIPO_CURVE_MV[1:]:
        if mv <= high_mv:
            return low_pct + (high_pct - low_pct) * (mv - low_mv) // (high_mv - low_mv)
        low_mv, low_pct = high_mv, high_pct
    return 100
