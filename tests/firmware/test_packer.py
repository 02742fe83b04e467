"""The firmware's sampling path (assembler → ring → packer) decoded by the host's codec.

A simulated night's counts go in; the host ``Decoder`` must give back exactly those samples at
their indices, and a ``Gap`` of exactly the samples the firmware dropped on purpose (a full ring
while the link is slow, missed data-ready interrupts) — never a shifted or invented sample.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware import wire
from firmware.blocks import new_conversions
from firmware.packer import Packer
from firmware.ring import BlockRing
from firmware_bridge import protocol
from firmware_bridge.codec import BadFrame, Decoder, Frame, Gap, accel_to_counts, emg_to_counts
from firmware_bridge.protocol import DeviceInfo, Site
from firmware_bridge.simulation import plan_night, render_chunks
from tests.firmware.firmware_stream import FirmwareStream, IntArray
from tests.firmware_bridge.test_codec_vectors import INFO_2CH

INFO = INFO_2CH  # 2 channels, 1 kHz / 50 Hz, 10-sample blocks, up to 5 per notification


def simulated_counts(seconds: float, info: DeviceInfo = INFO) -> tuple[IntArray, IntArray]:
    """A simulated night's first ``seconds`` as the wearable's ADCs would count it."""
    plan = plan_night(seed=5, hours=seconds / 3600.0, profile="dense", emg_rate_hz=1000.0,
                      accel_rate_hz=50.0)
    emg, accel = (np.concatenate(parts, axis=1) for parts in zip(*render_chunks(plan, 10.0),
                                                                  strict=True))
    emg = np.resize(emg, (info.n_emg_channels, emg.shape[1]))  # the subject's channels, repeated
    return emg_to_counts(info, emg), accel_to_counts(info, accel)


def decode(info: DeviceInfo, notifications: list[bytes]) -> tuple[list[Frame], list[Gap]]:
    decoder = Decoder(info)
    frames: list[Frame] = []
    gaps: list[Gap] = []
    for data in notifications:
        decoder.feed(data)
        for event in decoder.events():
            assert not isinstance(event, BadFrame), event
            if isinstance(event, Frame):
                frames.append(event)
            elif isinstance(event, Gap):
                gaps.append(event)
    return frames, gaps


def assert_frames_match(
    frames: list[Frame], emg: IntArray, accel: IntArray, info: DeviceInfo
) -> None:
    for frame in frames:
        i, n = frame.first_emg_index, frame.emg.shape[1]
        np.testing.assert_array_equal(frame.emg, emg[:, i : i + n] * info.emg_uv_per_lsb)
        k, m = frame.first_accel_index, frame.accel.shape[1]
        np.testing.assert_array_equal(frame.accel, accel[:, k : k + m] * info.accel_g_per_lsb)


@pytest.mark.parametrize("att_mtu", [247, 517, 100])
def test_simulated_night_decodes_to_the_same_samples(att_mtu: int) -> None:
    emg, accel = simulated_counts(20.0)
    stream = FirmwareStream(INFO)
    payload = att_mtu - 3
    sent: list[bytes] = []
    for start in range(0, emg.shape[1], INFO.block_emg_samples):
        stream.sample(emg[:, start : start + INFO.block_emg_samples], accel, 0)
        sent.extend(stream.send_ready(payload))
    sent.extend(stream.drain(payload))
    assert max(len(d) for d in sent) <= payload
    frames, gaps = decode(INFO, sent)
    assert gaps == []
    assert sum(f.emg.shape[1] for f in frames) == emg.shape[1]
    assert sum(f.accel.shape[1] for f in frames) == accel.shape[1]
    assert [struct_seq(d) for d in sent] == list(range(len(sent)))
    assert_frames_match(frames, emg, accel, INFO)
    if att_mtu >= 247:  # §5: 5 blocks of 10 ms per notification fit
        assert {f.emg.shape[1] for f in frames[:-1]} == {50}


def struct_seq(data: bytes) -> int:
    return int.from_bytes(data[2:4], "little")  # PROTOCOL.md §2: seq u16 at offset 2


def test_full_ring_drops_whole_blocks_and_the_pi_sees_exact_gaps() -> None:
    emg, accel = simulated_counts(12.0)
    stream = FirmwareStream(INFO, ring_blocks=8)
    block = INFO.block_emg_samples
    sent: list[bytes] = []
    stalled = range(3000, 5000)  # the link stalls for 2 s: nothing is sent, the ring fills
    for start in range(0, emg.shape[1], block):
        stream.sample(emg[:, start : start + block], accel, 0)
        if start not in stalled:
            sent.extend(stream.send_ready(244))
    sent.extend(stream.drain(244))
    ring = stream.ring
    assert ring.dropped_blocks > 0
    frames, gaps = decode(INFO, sent)
    assert sum(g.emg_samples_missing for g in gaps) == ring.dropped_samples
    assert len(gaps) == 1 and gaps[0].at_index % block == 0  # whole blocks, one hole
    assert sum(f.emg.shape[1] for f in frames) == emg.shape[1] - ring.dropped_samples
    assert_frames_match(frames, emg, accel, INFO)
    # The firmware kept the oldest blocks and dropped the newest (a lock-free ring, ring.py).
    assert gaps[0].at_index == 3000 + 8 * block


def test_missed_data_ready_becomes_a_gap_of_those_samples() -> None:
    emg, accel = simulated_counts(2.0)
    stream = FirmwareStream(INFO)
    sent: list[bytes] = []
    # The data-ready edge counter: on time 1, a queued second run of the handler 0, and 7 when
    # the interpreter was busy for 7 periods at sample 333 (6 conversions never read).
    assert new_conversions(333, 332) == 1 and new_conversions(333, 333) == 0
    assert new_conversions(3, 65533) == 6  # the 16-bit counter wrapped
    for j in range(333):
        stream.sample(emg[:, j : j + 1], accel, 0)
        sent.extend(stream.send_ready(244))
    stream.assembler.skip(new_conversions(339, 332) - 1)
    # The front end kept sampling on its own clock; samples 333-338 were never read.
    for j in range(339, emg.shape[1]):
        stream.sample(emg[:, j : j + 1], accel, 0)
        sent.extend(stream.send_ready(244))
    sent.extend(stream.drain(244))
    frames, gaps = decode(INFO, sent)
    assert [(g.at_index, g.emg_samples_missing) for g in gaps] == [(333, 6)]
    assert_frames_match(frames, emg, accel, INFO)


@settings(max_examples=40, deadline=None)
@given(
    payload=st.integers(20, 514),
    batch=st.integers(1, 25),
    keep=st.lists(st.booleans(), min_size=60, max_size=60),
    start=st.sampled_from([0, 7, 2**32 - 333]),
)
def test_any_payload_batch_and_drop_pattern(
    payload: int, batch: int, keep: list[bool], start: int
) -> None:
    info = DeviceInfo(
        emg_rate_hz=1000,
        accel_rate_hz=50,
        emg_sites=(Site.GASTROCNEMIUS_MEDIAL,),
        emg_uv_per_lsb=0.5,
        accel_g_per_lsb=1 / 8192,
        block_emg_samples=10,
        max_blocks_per_notification=batch,
    )
    rng = np.random.default_rng(len(keep))
    n = 10 * len(keep)
    emg = rng.integers(-2000, 2000, (1, n)).astype(np.int16)
    stream = FirmwareStream(info, ring_blocks=len(keep) + 1)
    stream.assembler.index = start
    accel = rng.integers(-9000, 9000, (3, n // 20 + 2)).astype(np.int16)  # EMG is checked here
    sent: list[bytes] = []
    for b, kept in enumerate(keep):
        if kept:
            stream.sample(emg[:, 10 * b : 10 * b + 10], accel, 0)
        else:
            stream.assembler.skip(10)
        sent.extend(stream.send_ready(payload))
    sent.extend(stream.drain(payload))
    fits_one = wire.notification_size(1, 1, 1) <= payload
    if fits_one:
        assert all(len(d) <= payload for d in sent)
    frames, _ = decode(info, sent)
    got = sum(f.emg.shape[1] for f in frames)
    assert got == 10 * sum(keep)
    for data in sent:  # each notification, decoded alone, holds the samples of its indices
        first = int.from_bytes(data[4:8], "little")
        count = data[8]
        offset = (first - start) % 2**32
        values = np.frombuffer(data, "<i2", count, 10)
        np.testing.assert_array_equal(values, emg[0, offset : offset + count])
        assert protocol.crc16(data[:-2]) == int.from_bytes(data[-2:], "little")


def test_packer_refuses_commit_without_pack() -> None:
    packer = Packer(BlockRing(2, 1, 10, 1), 20, 10)
    with pytest.raises(ValueError, match="commit"):
        packer.commit()
