"""Pure conversions for the sensors: the ADS1292R biopotential front end (TI datasheet
"ADS129x Low-Power, 2-Channel, 24-Bit Analog Front-End for Biopotential Measurements",
ADS1291/ADS1292/ADS1292R).

The data-ready frame is 72 bits: a 24-bit status word, then channel 1 and channel 2 as 24-bit
two's complement, MSB first (datasheet "Data Output Protocol"). The status word is
``1100 + LOFF_STAT[4:0] + GPIO[1:0] + 13 zeros``, with LOFF_STAT (register 08h) bit 4 RLD_STAT,
bit 3 IN2N_OFF, bit 2 IN2P_OFF, bit 1 IN1N_OFF, bit 0 IN1P_OFF.

The electrode half-cell offset (up to ~±300 mV, DC) is far outside the int16 range that is sent,
so each channel goes through an integer DC blocker before it is cut to int16. Pure: no imports.
"""

# Datasheet "Data Format": LSB = 2·VREF / gain / 2**24.
# VREF 2.42 V (CONFIG2 VREF_4V = 0), gain 6 (CHnSET).
VREF_V = 2.42
GAIN = 6
LSB24_UV = 2 * VREF_V / GAIN / 2**24 * 1e6  # 0.0481 µV per 24-bit count
SHIFT = 3  # int16 count = 24-bit count >> 3: 0.385 µV per count, ±12.6 mV span (EMG < ~5 mV)
EMG_UV_PER_LSB = LSB24_UV * (1 << SHIFT)
# DC blocker: dc += (x − dc) >> 8 per sample, a one-pole low-pass with time constant 256 samples
# (0.256 s at 1 kHz, corner 1/(2π·0.256 s) ≈ 0.62 Hz), far below the detector's 20 Hz high-pass.
DC_SHIFT = 8

# LIS3DH at ±4 g, high resolution (CTRL_REG4 = 0x98, lis3dh.py): 2 mg/digit (ST datasheet
# DocID17530 "Mechanical characteristics", So), the 12-bit value left-justified in 16 bits.
ACCEL_G_PER_LSB = 0.002 / 16

LOFF_SHIFT = 15  # LOFF_STAT[4:0] sits at bits 19..15 of the 24-bit status word
LOFF_IN1 = 0b00011  # IN1P | IN1N: EMG channel 0 (ADS1292R channel 1)
LOFF_IN2 = 0b01100  # IN2P | IN2N: EMG channel 1 (ADS1292R channel 2)
LOFF_RLD = 0b10000  # the right-leg-drive (reference) electrode
STATUS_REFERENCE = 1 << 6  # PROTOCOL.md §2: status bit 6, reference electrode lead-off


def signed24(frame: bytes | bytearray | memoryview, offset: int) -> int:
    """The 24-bit two's complement value at ``frame[offset:offset + 3]`` (MSB first)."""
    value = (frame[offset] << 16) | (frame[offset + 1] << 8) | frame[offset + 2]
    return value - (1 << 24) if value & 0x800000 else value


def lead_off_status(frame: bytes | bytearray | memoryview, n_channels: int) -> int:
    """PROTOCOL.md §2 status bits from the frame's status word: bit c = EMG channel c off,
    bit 6 = reference (RLD) off. Either input of a channel off means the channel is off."""
    loff = (((frame[0] << 16) | (frame[1] << 8) | frame[2]) >> LOFF_SHIFT) & 0x1F
    status = 0
    if loff & LOFF_IN1:
        status |= 1
    if n_channels > 1 and loff & LOFF_IN2:
        status |= 2
    if loff & LOFF_RLD:
        status |= STATUS_REFERENCE
    return status


class DcBlocker:
    """Per-channel integer DC removal and scaling to int16 counts of ``EMG_UV_PER_LSB``."""

    def __init__(self, n_channels: int) -> None:
        self.dc = [0] * n_channels
        self.primed = False

    def counts(self, frame: bytes | bytearray | memoryview, out: list[int]) -> None:
        """Fill ``out[c]`` with channel c of ``frame`` (ADS1292R data frame), DC removed, as
        24-bit counts >> SHIFT (not yet clipped). The first frame seeds the DC estimate."""
        dc = self.dc
        for c in range(len(out)):
            x = signed24(frame, 3 + 3 * c)
            if not self.primed:
                dc[c] = x
            dc[c] += (x - dc[c]) >> DC_SHIFT
            out[c] = (x - dc[c]) >> SHIFT
        self.primed = True
