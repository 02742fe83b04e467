"""The firmware's wire format against PROTOCOL.md §7 (parsed from the document) and the host codec.

Both directions: the firmware must produce each vector byte for byte from the vector's own
numbers, and the host must decode what the firmware produces. A doc change that disagrees with
the firmware fails here, and so does a firmware change that disagrees with the doc.
"""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware import wire
from firmware.blocks import BlockAssembler, max_accel_per_block
from firmware.packer import Packer
from firmware.ring import BlockRing
from firmware_bridge import protocol
from firmware_bridge.codec import Decoder, Encoder, Frame
from firmware_bridge.protocol import DeviceInfo, Site
from tests.firmware_bridge.test_codec_vectors import INFO_1CH, INFO_2CH, VECTORS


def firmware_info(info: DeviceInfo) -> bytes:
    return wire.device_info(
        info.emg_rate_hz,
        info.accel_rate_hz,
        info.emg_uv_per_lsb,
        info.accel_g_per_lsb,
        int(info.leg),
        info.firmware_version,
        info.block_emg_samples,
        info.max_blocks_per_notification,
        tuple(int(s) for s in info.emg_sites),
    )


def firmware_notification(
    info: DeviceInfo,
    emg: list[list[int]],
    accel: list[tuple[int, int, int]],
    first_index: int,
    seq: int,
    status: int,
) -> bytes:
    """One notification built by the firmware's assembler and packer from per-sample counts."""
    block = info.block_emg_samples
    ratio = info.accel_ratio
    ring = BlockRing(4, info.n_emg_channels, block, max_accel_per_block(block, ratio))
    assembler = BlockAssembler(ring, block, ratio)
    assembler.index = first_index
    due = iter(accel)
    for sample in emg:
        if assembler.accel_due():
            assembler.add_accel(*next(due))
        assembler.add_sample(sample, status)
    assembler.flush()
    packer = Packer(ring, ratio, len(emg))
    packer.seq = seq
    data = packer.pack(4096)  # no MTU limit here: the vectors fix n
    assert data is not None
    packer.commit()
    assert ring.filled() == 0
    return bytes(data)


def test_crc_check_value_and_host_agree() -> None:
    assert wire.crc16(b"123456789") == 0x29B1  # Greg Cook's catalogue, CRC-16/IBM-3740
    for raw in VECTORS.values():
        assert wire.crc16(raw) == protocol.crc16(raw)


def test_device_info_vectors() -> None:
    assert firmware_info(INFO_2CH) == VECTORS["info_2ch"]
    assert firmware_info(INFO_1CH) == VECTORS["info_1ch"]
    assert DeviceInfo.from_bytes(firmware_info(INFO_2CH)) == INFO_2CH


def test_notification_vectors_from_their_numbers() -> None:
    # The numbers are PROTOCOL.md §6/§7's prose, not the code under test.
    assert firmware_notification(
        INFO_2CH, [[100, -32768], [-100, 0], [32767, 1]], [(8192, 0, -8192)], 20, 7, 0
    ) == VECTORS["notify_2ch_example"]
    assert firmware_notification(
        INFO_2CH, [[5, 7], [6, 8]], [], 4294967290, 65535, 0x42
    ) == VECTORS["notify_2ch_wrap_leadoff"]
    assert firmware_notification(
        INFO_1CH, [[-2]], [(0, 4096, 8192)], 40, 10, 0
    ) == VECTORS["notify_1ch_mtu23_accel"]
    assert firmware_notification(
        INFO_1CH, [[1], [2], [3], [4]], [], 41, 11, 0
    ) == VECTORS["notify_1ch_mtu23"]


def test_mtu23_batching_splits_as_the_vectors_do() -> None:
    # §5 ATT_MTU 23 mode: at index 40 (accel due) one sample fits 20 bytes, at 41 four do.
    assert wire.fit_samples(1, 20, 40, 20, 4) == 1
    assert wire.fit_samples(1, 20, 41, 20, 4) == 4
    assert len(VECTORS["notify_1ch_mtu23_accel"]) == len(VECTORS["notify_1ch_mtu23"]) == 20


def test_control_vectors() -> None:
    assert wire.parse_control(VECTORS["control_start"]) == (wire.OP_START, 0, 0)
    assert wire.parse_control(VECTORS["control_stop"]) == (wire.OP_STOP, 0, 0)
    assert wire.parse_control(VECTORS["control_set_rates_1000_50"]) == (wire.OP_SET_RATES, 1000, 50)
    assert wire.parse_control(VECTORS["control_set_batch_4"]) == (wire.OP_SET_BATCH, 4, 0)
    for bad in (b"", b"\x7f", b"\x01\x00", b"\x03\xe8\x03", b"\x04"):
        assert wire.parse_control(bad) is None
        assert (wire.parse_control(bad) is None) == (protocol.parse_control(bad) is None)


def test_constants_match_the_host() -> None:
    assert wire.HEADER_SIZE == protocol.HEADER_SIZE
    assert wire.OVERHEAD_SIZE == protocol.OVERHEAD_SIZE
    assert struct.calcsize(wire.DEVICE_INFO_FORMAT) == protocol.DEVICE_INFO_FIXED_SIZE
    assert wire.STATUS_MASK == protocol.LEAD_OFF_MASK


@settings(max_examples=150, deadline=None)
@given(
    n_channels=st.integers(1, 6),
    ratio=st.sampled_from([1, 3, 7, 20, 50]),
    n=st.integers(1, 60),
    first_index=st.one_of(st.integers(0, 10_000), st.integers(2**32 - 100, 2**32 - 1)),
    seq=st.integers(0, 65535),
    status=st.integers(0, 127),
    seed=st.integers(0, 2**32 - 1),
)
def test_firmware_bytes_equal_host_encoder_and_decode_back(
    n_channels: int, ratio: int, n: int, first_index: int, seq: int, status: int, seed: int
) -> None:
    emg_rate_hz = 1000 if 1000 % ratio == 0 else 1050
    info = DeviceInfo(
        emg_rate_hz=emg_rate_hz,
        accel_rate_hz=emg_rate_hz // ratio,
        emg_sites=(Site.GASTROCNEMIUS_MEDIAL,) * n_channels,
        emg_uv_per_lsb=0.5,
        accel_g_per_lsb=1 / 8192,
        block_emg_samples=n,
        max_blocks_per_notification=1,
    )
    assert info.accel_ratio == ratio
    first_index = min(first_index, 2**32 - n)  # the firmware never spans the wrap (packer.py)
    rng = np.random.default_rng(seed)
    emg = rng.integers(-32768, 32768, (n_channels, n), dtype=np.int16)
    _, m = protocol.accel_span(info, first_index, n)
    accel = rng.integers(-32768, 32768, (3, m), dtype=np.int16)
    ours = firmware_notification(
        info,
        emg.T.tolist(),
        [(x, y, z) for x, y, z in accel.T.tolist()],
        first_index,
        seq,
        status,
    )
    host = Encoder(info, first_seq=seq).encode(emg, accel, first_index, status)
    assert ours == host
    decoder = Decoder(info)
    decoder.feed(ours)
    (frame,) = decoder.events()
    assert isinstance(frame, Frame)
    assert frame.seq == seq and frame.lead_off == status and frame.first_emg_index == first_index
    np.testing.assert_array_equal(frame.emg, emg * info.emg_uv_per_lsb)
    np.testing.assert_array_equal(frame.accel, accel * info.accel_g_per_lsb)


def test_vectors_read_with_the_firmware_layout() -> None:
    # The other direction: each notification vector, read with the firmware's own layout,
    # has the firmware's length, accelerometer count and CRC.
    channels = {"notify_2ch_example": 2, "notify_2ch_wrap_leadoff": 2}
    for name, raw in VECTORS.items():
        if not name.startswith("notify_"):
            continue
        version, status, _seq, first, n, m = struct.unpack_from(wire.HEADER_FORMAT, raw)
        assert version == wire.PROTOCOL_VERSION and status & ~wire.STATUS_MASK == 0
        assert len(raw) == wire.notification_size(channels.get(name, 1), n, m), name
        assert m == wire.accel_count(first, n, 20), name  # every vector device: 1000/50 Hz
        assert wire.crc16(raw, len(raw) - 2) == int.from_bytes(raw[-2:], "little"), name
