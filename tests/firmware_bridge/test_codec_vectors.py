"""The hex vectors in PROTOCOL.md, checked against the encoder, the decoder and hand-made values.

The expected numbers below are written from PROTOCOL.md's tables (§3, §6, §7), not computed by
the code under test, so a mistake shared by encoder and decoder cannot hide.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge import protocol
from firmware_bridge.codec import BadFrame, Decoder, Encoder, Frame, Gap
from firmware_bridge.protocol import DeviceInfo, Leg, Opcode, Site

DOC = Path(protocol.__file__).with_name("PROTOCOL.md")


def vectors() -> dict[str, bytes]:
    text = DOC.read_text(encoding="utf-8")
    found = re.findall(r"<!-- vector: (\w+) -->\s*```hex\n([0-9a-f \n]+)```", text)
    return {name: bytes.fromhex(hexdigits) for name, hexdigits in found}


VECTORS = vectors()

INFO_2CH = DeviceInfo(
    emg_rate_hz=1000,
    accel_rate_hz=50,
    emg_sites=(Site.GASTROCNEMIUS_MEDIAL, Site.SOLEUS),
    emg_uv_per_lsb=0.5,
    accel_g_per_lsb=1 / 8192,
    leg=Leg.LEFT,
    firmware_version=(1, 2, 3),
    block_emg_samples=10,
    max_blocks_per_notification=5,
)
INFO_1CH = DeviceInfo(
    emg_rate_hz=1000,
    accel_rate_hz=50,
    emg_sites=(Site.GASTROCNEMIUS_MEDIAL,),
    emg_uv_per_lsb=0.5,
    accel_g_per_lsb=1 / 8192,
    leg=Leg.RIGHT,
    firmware_version=(0, 9, 0),
    block_emg_samples=4,
    max_blocks_per_notification=1,
)


def test_document_has_all_vectors() -> None:
    assert set(VECTORS) == {
        "info_2ch",
        "notify_2ch_example",
        "notify_2ch_wrap_leadoff",
        "info_1ch",
        "notify_1ch_mtu23_accel",
        "notify_1ch_mtu23",
        "control_start",
        "control_stop",
        "control_set_rates_1000_50",
        "control_set_batch_4",
    }


def test_crc_is_ccitt_false_check_value() -> None:
    # Greg Cook's catalogue, CRC-16/IBM-3740: check = 0x29B1.
    assert protocol.crc16(b"123456789") == 0x29B1


@pytest.mark.parametrize(("name", "info"), [("info_2ch", INFO_2CH), ("info_1ch", INFO_1CH)])
def test_device_info_vectors(name: str, info: DeviceInfo) -> None:
    raw = VECTORS[name]
    assert info.to_bytes() == raw
    assert DeviceInfo.from_bytes(raw) == info
    assert len(raw) == 20 + info.n_emg_channels
    # Later minor additions after the sites are ignored.
    assert DeviceInfo.from_bytes(raw + b"\x99\x98") == info


def test_worked_example_encodes_and_decodes() -> None:
    raw = VECTORS["notify_2ch_example"]
    enc = Encoder(INFO_2CH)
    emg = np.array([[100, -100, 32767], [-32768, 0, 1]])
    accel = np.array([[8192], [0], [-8192]])
    assert enc.encode(emg, accel, 20, 0, seq=7) == raw
    assert len(raw) == 30
    dec = Decoder(INFO_2CH)
    dec.feed(raw)
    (frame,) = dec.events()
    assert frame == Frame(
        seq=7,
        first_emg_index=20,
        emg=np.array([[50.0, -50.0, 16383.5], [-16384.0, 0.0, 0.5]]),
        first_accel_index=1,
        accel=np.array([[1.0], [0.0], [-1.0]]),
        lead_off=0,
    )


def test_worked_example_cut_at_mtu_23_then_gap() -> None:
    raw = VECTORS["notify_2ch_example"]
    dec = Decoder(INFO_2CH)
    enc = Encoder(INFO_2CH, first_seq=6)
    dec.feed(enc.encode(np.zeros((2, 20), np.int16), np.zeros((3, 1), np.int16), 0))  # [0, 20)
    dec.feed(raw[: protocol.max_payload_size(23)])  # [20, 23) cut to 20 bytes
    # [23, 40): no accelerometer sample is due (k = 2 belongs to index 40).
    dec.feed(enc.encode(np.zeros((2, 17), np.int16), np.zeros((3, 0), np.int16), 23, seq=8))
    events = list(dec.events())
    assert isinstance(events[0], Frame)
    assert events[1] == BadFrame("truncated", 20)
    assert events[2] == Gap(emg_samples_missing=3, accel_samples_missing=1, at_index=20)
    assert isinstance(events[3], Frame) and events[3].first_emg_index == 23


def test_wrap_and_lead_off_vector() -> None:
    raw = VECTORS["notify_2ch_wrap_leadoff"]
    enc = Encoder(INFO_2CH)
    emg = np.array([[5, 6], [7, 8]])
    assert enc.encode(emg, np.zeros((3, 0), int), 4294967290, 0x42, seq=65535) == raw
    dec = Decoder(INFO_2CH)
    dec.feed(raw)
    (frame,) = dec.events()
    assert isinstance(frame, Frame)
    assert (frame.seq, frame.first_emg_index, frame.lead_off) == (65535, 4294967290, 0x42)
    assert frame.lead_off_channel(1) and not frame.lead_off_channel(0)
    assert frame.lead_off & protocol.LEAD_OFF_REFERENCE
    np.testing.assert_array_equal(frame.emg, [[2.5, 3.0], [3.5, 4.0]])
    assert frame.accel.shape == (3, 0)


def test_mtu_23_vectors_fit_20_bytes() -> None:
    accel_due = VECTORS["notify_1ch_mtu23_accel"]
    plain = VECTORS["notify_1ch_mtu23"]
    assert len(accel_due) == len(plain) == 20 == protocol.max_payload_size(23)
    enc = Encoder(INFO_1CH, first_seq=10)
    assert enc.encode(np.array([[-2]]), np.array([[0], [4096], [8192]]), 40) == accel_due
    assert enc.encode(np.array([[1, 2, 3, 4]]), np.zeros((3, 0), int), 41) == plain
    dec = Decoder(INFO_1CH)
    dec.feed(accel_due)
    dec.feed(plain)
    first, second = dec.events()
    assert isinstance(first, Frame) and isinstance(second, Frame)
    assert first.first_accel_index == 2
    np.testing.assert_array_equal(first.accel, [[0.0], [0.5], [1.0]])
    np.testing.assert_array_equal(second.emg, [[0.5, 1.0, 1.5, 2.0]])
    # The batching helper agrees with the document's MTU 23 mode: 1 sample when accel is due.
    assert protocol.max_emg_samples(INFO_1CH, 40, 20) == 1
    assert protocol.max_emg_samples(INFO_1CH, 41, 20) == 4


def test_control_vectors() -> None:
    assert protocol.control_start() == VECTORS["control_start"]
    assert protocol.control_stop() == VECTORS["control_stop"]
    assert protocol.control_set_rates(1000, 50) == VECTORS["control_set_rates_1000_50"]
    assert protocol.control_set_batch(4) == VECTORS["control_set_batch_4"]
    cmd = protocol.parse_control(VECTORS["control_set_rates_1000_50"])
    assert cmd is not None
    assert (cmd.opcode, cmd.emg_rate_hz, cmd.accel_rate_hz) == (Opcode.SET_RATES, 1000, 50)
    batch = protocol.parse_control(VECTORS["control_set_batch_4"])
    assert batch is not None and (batch.opcode, batch.blocks) == (Opcode.SET_BATCH, 4)
    for bad in (b"", b"\x00", b"\x01\x00", b"\x03\xe8\x03", b"\x03\x32\x00\xe8\x03", b"\x04\x00"):
        assert protocol.parse_control(bad) is None, bad.hex()


def test_batching_table_of_section_5() -> None:
    # PROTOCOL.md §5: bytes of 4 and 5 blocks of 10 ms, 1 and 2 channels.
    assert protocol.notification_size(1, 40, 2) == 104
    assert protocol.notification_size(2, 40, 2) == 184
    assert protocol.notification_size(2, 50, 3) == 230
    assert protocol.max_emg_samples(INFO_2CH, 0, protocol.max_payload_size(247)) == 50
    assert protocol.max_emg_samples(INFO_2CH, 0, protocol.max_payload_size(185)) == 39
    # Two channels cannot send an accelerometer sample in 20 bytes (§5).
    assert protocol.max_emg_samples(INFO_2CH, 0, 20) == 0
