"""``firmware/sampler.py`` and the ADS1292R/LIS3DH drivers on CPython, over the boundary fakes.

The test plays the front end: it advances the PCNT edge counter and calls the data-ready handler
as the ESP32 would. Missed pulses, a handler queued twice, lead-off and an idle spell must reach
the Pi as exact gaps and status bits.
"""

from __future__ import annotations

import sys

import pytest

from firmware.blocks import BlockAssembler
from firmware.packer import Packer
from firmware.ring import BlockRing
from firmware_bridge.codec import Decoder, Frame, Gap
from tests.firmware import micropython_fakes as fakes
from tests.firmware.test_frontend import frame
from tests.firmware_bridge.test_codec_vectors import INFO_1CH

INFO = INFO_1CH  # 1 channel, 1000/50 Hz: what the decoder needs of the device


def test_data_ready_path_counts_every_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    fakes.install(monkeypatch)
    from firmware.ads1292r import Ads1292r
    from firmware.lis3dh import Lis3dh
    from firmware.sampler import Sampler

    machine = sys.modules["machine"]
    ring = BlockRing(400, 1, 10, 1)
    assembler = BlockAssembler(ring, 10, 20)
    afe = Ads1292r(machine.SPI(1), fakes.Pin(4), fakes.Pin(43), fakes.Pin(44))
    accel = Lis3dh(machine.I2C(0), 0x18)
    drdy = fakes.Pin(3)
    sampler = Sampler(afe, accel, drdy, assembler, 1000)
    sampler.start()
    chip = fakes.chip()
    assert chip.registers[0x01] == 0x03  # CONFIG1: 1 kSPS
    assert chip.registers[0x05] == 0x81  # CH2SET: powered down and shorted (1 channel)
    assert afe.start_pin.value() == 1 and drdy.handler is not None
    counter = fakes.Counter.units[0]

    def edges(n: int, *, loff: int = 0, pulses: int = 1) -> None:
        for _ in range(n):
            counter.count += pulses
            chip.frame = frame(loff, 1000, 0)
            assert drdy.handler is not None
            drdy.handler(drdy)

    edges(50)
    edges(1, pulses=4)  # the interpreter was busy: 3 conversions went by unread
    drdy.handler(drdy)  # the same edge's handler queued twice: no new conversion
    edges(49, loff=0b10000)  # the reference electrode came off (RLD_STAT)
    sampler.stop()
    assert afe.pwdn.value() == 0 and afe.start_pin.value() == 0  # powered down while idle
    fakes.TICKS_MS[0] += 2500  # 2.5 s without a central
    sampler.start()
    edges(20)
    sampler.stop()

    packer = Packer(ring, 20, 50)
    decoder = Decoder(INFO)
    while (data := packer.pack(244)) is not None:
        decoder.feed(bytes(data))
        packer.commit()
    got = list(decoder.events())
    gaps = [(g.at_index, g.emg_samples_missing) for g in got if isinstance(g, Gap)]
    assert gaps == [(50, 3), (103, 2500)]
    frames = [f for f in got if isinstance(f, Frame)]
    assert sum(f.emg.shape[1] for f in frames) == 50 + 1 + 49 + 20
    assert frames[0].lead_off == 0 and any(f.lead_off == 0x40 for f in frames)
    taken = [*range(50), *range(53, 103), *range(2603, 2623)]  # indices read
    assert sum(f.accel.shape[1] for f in frames) == sum(i % 20 == 0 for i in taken)  # §2.3
    assert assembler.skipped == 3 + 2500
