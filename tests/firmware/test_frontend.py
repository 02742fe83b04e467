"""ADS1292R frame decoding, lead-off flags and DC removal (firmware/frontend.py) on CPython."""

from __future__ import annotations

import math

import pytest

from firmware import frontend
from firmware.blocks import clip16


def frame(loff: int, ch1: int, ch2: int) -> bytes:
    # Datasheet "Data Output Protocol": status 1100 + LOFF_STAT[4:0] + GPIO[1:0] + 13 zeros.
    status = (0b1100 << 20) | (loff << 15)
    return b"".join(v.to_bytes(3, "big") for v in (status, ch1 & 0xFFFFFF, ch2 & 0xFFFFFF))


def test_signed24() -> None:
    data = frame(0, -1, 0x7FFFFF)
    assert frontend.signed24(data, 3) == -1
    assert frontend.signed24(data, 6) == 0x7FFFFF
    assert frontend.signed24(frame(0, -0x800000, 0), 3) == -0x800000


@pytest.mark.parametrize(
    ("loff", "n_channels", "status"),
    [
        (0, 2, 0),
        (0b00001, 2, 0b1),  # IN1P off: EMG channel 0
        (0b00010, 2, 0b1),  # IN1N off
        (0b00100, 2, 0b10),  # IN2P off: EMG channel 1
        (0b01000, 1, 0),  # channel 2 unused on a 1-channel wearable
        (0b10000, 2, 0x40),  # RLD (reference on the tibia) off: PROTOCOL.md §2 bit 6
        (0b11111, 2, 0x43),
    ],
)
def test_lead_off_bits(loff: int, n_channels: int, status: int) -> None:
    assert frontend.lead_off_status(frame(loff, 0, 0), n_channels) == status


def test_lsb_is_the_datasheet_formula() -> None:
    # 2·VREF/gain/2**24 with VREF 2.42 V, gain 6: 48.08 nV; int16 counts are 8 of those.
    assert pytest.approx(0.048083, rel=1e-4) == frontend.LSB24_UV
    assert pytest.approx(0.38466, rel=1e-4) == frontend.EMG_UV_PER_LSB


def test_dc_blocker_removes_an_electrode_offset_and_keeps_emg() -> None:
    blocker = frontend.DcBlocker(1)
    out = [0]
    offset_uv = 150_000.0  # 150 mV half-cell offset, well outside int16 at 0.38 µV
    amplitude_uv = 500.0
    got: list[int] = []
    for i in range(4000):  # 4 s at 1 kHz
        uv = offset_uv + amplitude_uv * math.sin(2 * math.pi * 80.0 * i / 1000.0)
        blocker.counts(frame(0, round(uv / frontend.LSB24_UV), 0), out)
        got.append(clip16(out[0]))
    tail = got[2000:]  # after the blocker settled (time constant 0.256 s)
    mean_uv = sum(tail) / len(tail) * frontend.EMG_UV_PER_LSB
    peak_uv = max(abs(v) for v in tail) * frontend.EMG_UV_PER_LSB
    assert abs(mean_uv) < 15.0  # the offset is gone (dead zone 256 LSB24 = 12 µV)
    assert peak_uv == pytest.approx(amplitude_uv, rel=0.05)  # 80 Hz EMG passes
    assert max(abs(v) for v in tail) < 32767  # no clipping
