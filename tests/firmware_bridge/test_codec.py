"""Codec behaviour: round trip, sequencing (gaps, duplicates, resets, wraps), rejected input."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import protocol
from firmware_bridge.codec import (
    BadFrame,
    Decoder,
    Encoder,
    Event,
    Frame,
    Gap,
    Reset,
    accel_to_counts,
    emg_to_counts,
)
from firmware_bridge.protocol import DeviceInfo, InvalidDeviceInfoError, Site


def make_info(n_ch: int = 2, emg_hz: int = 1000, accel_hz: int = 50) -> DeviceInfo:
    return DeviceInfo(
        emg_rate_hz=emg_hz,
        accel_rate_hz=accel_hz,
        emg_sites=(Site.GASTROCNEMIUS_MEDIAL, Site.SOLEUS, Site.TIBIALIS_ANTERIOR)[:n_ch]
        + (Site.UNKNOWN,) * max(0, n_ch - 3),
        emg_uv_per_lsb=0.25,
        accel_g_per_lsb=1 / 4096,
    )


def accel_count(first: int, n: int, ratio: int) -> int:
    """Independent of the code under test: count EMG indices that are multiples of the ratio."""
    return sum(1 for i in range(first, first + n) if i % ratio == 0)


class Wearable:
    """Test helper: random counts, the right number of accelerometer samples, running index."""

    def __init__(self, info: DeviceInfo, rng: np.random.Generator, first_index: int = 0) -> None:
        self.info, self.rng, self.index = info, rng, first_index
        self.enc = Encoder(info)

    def counts(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        m = accel_count(self.index % 2**32, n, self.info.accel_ratio)
        emg = self.rng.integers(-32768, 32768, size=(self.info.n_emg_channels, n))
        return emg, self.rng.integers(-32768, 32768, size=(3, m))

    def next(self, n: int = 40, lead_off: int = 0) -> bytes:
        emg, accel = self.counts(n)
        data = self.enc.encode(emg, accel, self.index, lead_off)
        self.index += n
        return data

    def skip(self, n: int) -> None:
        self.index += n


def decode_all(dec: Decoder, packets: list[bytes]) -> list[Event]:
    for p in packets:
        dec.feed(p)
    return list(dec.events())


def frames(events: list[Event]) -> list[Frame]:
    return [e for e in events if isinstance(e, Frame)]


@settings(max_examples=150, deadline=None)
@given(
    n_ch=st.integers(1, 6),
    ratio=st.sampled_from([1, 2, 4, 5, 10, 20, 25]),
    accel_hz=st.integers(10, 200),
    n=st.integers(1, 255),
    first_index=st.integers(0, 2**32 - 1),
    lead_off=st.integers(0, 127),
    seq=st.integers(0, 65535),
    seed=st.integers(0, 2**32 - 1),
)
def test_decode_encode_round_trip(
    n_ch: int, ratio: int, accel_hz: int, n: int, first_index: int, lead_off: int, seq: int,
    seed: int,
) -> None:  # fmt: skip
    info = make_info(n_ch, accel_hz * ratio, accel_hz)
    rng = np.random.default_rng(seed)
    m = accel_count(first_index, n, ratio)
    emg = rng.integers(-32768, 32768, size=(n_ch, n), dtype=np.int16)
    accel = rng.integers(-32768, 32768, size=(3, m), dtype=np.int16)
    data = Encoder(info).encode(emg, accel, first_index, lead_off, seq=seq)
    assert len(data) == 12 + 2 * n_ch * n + 6 * m
    dec = Decoder(info)
    dec.feed(data)
    expected = Frame(
        seq=seq,
        first_emg_index=first_index,
        emg=emg.astype(np.float64) * 0.25,
        first_accel_index=math.ceil(first_index / ratio),
        accel=accel.astype(np.float64) / 4096,
        lead_off=lead_off,
    )
    assert list(dec.events()) == [expected]
    assert dec.statistics().frames == 1


def test_frames_are_immutable(rng: np.random.Generator) -> None:
    dec = Decoder(make_info())
    dec.feed(Wearable(make_info(), rng).next())
    (frame,) = frames(list(dec.events()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        frame.seq = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        frame.emg[0, 0] = 1.0
    assert frame.emg.dtype == np.float64 and frame.accel.dtype == np.float64


def test_contiguous_stream_has_no_gaps(rng: np.random.Generator) -> None:
    info = make_info()
    w = Wearable(info, rng, first_index=12345)
    events = decode_all(dec := Decoder(info), [w.next(n) for n in (40, 50, 1, 7, 255, 40)])
    assert all(isinstance(e, Frame) for e in events)
    fs = frames(events)
    for a, b in itertools.pairwise(fs):
        assert b.first_emg_index == a.first_emg_index + a.emg.shape[1]
        assert b.first_accel_index == a.first_accel_index + a.accel.shape[1]
    stats = dec.statistics()
    assert (stats.frames, stats.gaps, stats.duplicates, stats.bad_frames) == (6, 0, 0, 0)
    assert stats.emg_samples == 393
    assert stats.accel_samples == sum(f.accel.shape[1] for f in fs)


def test_sequence_wraps_at_65535_without_gaps(rng: np.random.Generator) -> None:
    info = make_info()
    w = Wearable(info, rng)
    w.enc = Encoder(info, first_seq=65533)
    events = decode_all(dec := Decoder(info), [w.next() for _ in range(6)])
    assert [f.seq for f in frames(events)] == [65533, 65534, 65535, 0, 1, 2]
    assert len(events) == 6
    assert dec.statistics().duplicates == 0


def test_missing_notification_is_an_exact_gap(rng: np.random.Generator) -> None:
    info = make_info()  # ratio 20
    w = Wearable(info, rng)
    packets = [w.next(40), w.next(40)]
    w.next(50)  # lost: EMG [80, 130), accel k = 4, 5, 6
    packets.append(w.next(40))
    events = decode_all(dec := Decoder(info), packets)
    assert events[2] == Gap(emg_samples_missing=50, accel_samples_missing=3, at_index=80)
    assert isinstance(events[3], Frame) and events[3].first_emg_index == 130
    assert events[3].first_accel_index == 7
    stats = dec.statistics()
    assert (stats.gaps, stats.emg_samples_missing, stats.accel_samples_missing) == (1, 50, 3)


def test_reconnect_jump_ahead_is_a_gap(rng: np.random.Generator) -> None:
    info = make_info()
    w = Wearable(info, rng)
    packets = [w.next() for _ in range(3)]
    w.skip(1000 * 37 + 3)  # 37 s without a link
    packets += [w.next() for _ in range(3)]
    events = decode_all(Decoder(info), packets)
    gaps = [e for e in events if isinstance(e, Gap)]
    assert gaps == [Gap(37003, accel_count(120, 37003, 20), 120)]


@pytest.mark.parametrize("pattern", ["AABB", "ABAB", "ABCABC", "AAAA"])
def test_duplicates_are_dropped_and_counted(rng: np.random.Generator, pattern: str) -> None:
    info = make_info()
    w = Wearable(info, rng)
    unique = {c: w.next() for c in sorted(set(pattern))}
    events = decode_all(dec := Decoder(info), [unique[c] for c in pattern])
    assert len(events) == len(unique)  # frames only: no gap, no reset
    assert [f.first_emg_index for f in frames(events)] == [40 * i for i in range(len(unique))]
    assert dec.statistics().duplicates == len(pattern) - len(unique)


def test_reboot_going_backwards_is_a_counted_reset(rng: np.random.Generator) -> None:
    info = make_info()  # ratio 20
    w = Wearable(info, rng, first_index=5000)
    packets = [w.next(40), w.next(40)]  # ends at 5080
    w.index, w.enc = 3, Encoder(info)  # rebooted: index 3, seq 0
    packets += [w.next(40), w.next(40)]
    events = decode_all(dec := Decoder(info), packets)
    assert events[2] == Reset(at_index=5080, device_index=3)
    after = frames(events)[2:]
    # Output continues after the last sample, keeping index ≡ device index (mod 20).
    assert after[0].first_emg_index == 5083 and after[0].first_emg_index % 20 == 3
    assert after[1].first_emg_index == 5123
    assert after[0].first_accel_index == math.ceil(5083 / 20)
    assert dec.statistics().resets == 1


def test_implausible_forward_jump_is_a_reset(rng: np.random.Generator) -> None:
    info = make_info()
    w = Wearable(info, rng)
    packets = [w.next(40)]
    w.skip(86_400 * 1000 + 7)  # more than a day ahead
    packets.append(w.next(40))
    events = decode_all(Decoder(info), packets)
    assert events[1] == Reset(at_index=40, device_index=86_400_047)
    assert isinstance(events[2], Frame) and events[2].first_emg_index == 47


@pytest.mark.parametrize(("emg_hz", "accel_hz"), [(1000, 1000), (800, 50), (1024, 64)])
def test_index_wrap_at_2_32_is_continuous_when_ratio_divides_it(
    rng: np.random.Generator, emg_hz: int, accel_hz: int
) -> None:
    info = make_info(1, emg_hz, accel_hz)
    w = Wearable(info, rng, first_index=2**32 - 100)
    events = decode_all(Decoder(info), [w.next(40) for _ in range(5)])
    assert [f.first_emg_index for f in frames(events)] == [2**32 - 100 + 40 * i for i in range(5)]
    assert len(events) == 5


def test_index_wrap_with_ratio_20_resets_to_keep_accel_alignment(
    rng: np.random.Generator,
) -> None:
    info = make_info()  # 2**32 mod 20 = 16: the wearable's u32 alignment shifts at the wrap
    w = Wearable(info, rng, first_index=2**32 - 80)
    events = decode_all(dec := Decoder(info), [w.next(40) for _ in range(4)])
    assert dec.statistics().resets == 1
    fs = frames(events)
    assert len(fs) == 4
    for f in fs:
        assert f.accel.shape[1] == accel_count(f.first_emg_index, f.emg.shape[1], 20)


def test_truncated_at_mtu_23_is_bad_frame_then_gap(rng: np.random.Generator) -> None:
    info = make_info()
    w = Wearable(info, rng)
    a, b, c = w.next(), w.next(), w.next()
    events = decode_all(dec := Decoder(info), [a, b[:20], c])
    assert events[1] == BadFrame("truncated", 20)
    assert events[2] == Gap(40, 2, 40)
    assert dec.statistics().bad_by_reason == {"truncated": 1}


def test_rejections_by_reason(rng: np.random.Generator) -> None:
    info = make_info()
    w = Wearable(info, rng)
    good = w.next()
    wrong_version = bytes([2]) + good[1:]
    bad_crc = good[:-1] + bytes([good[-1] ^ 0x01])
    flipped_sample = good[:20] + bytes([good[20] ^ 0x80]) + good[21:]
    body = bytearray(good[:-2])
    body[9] += 1  # claims one more accel sample, extended and re-checksummed
    body += b"\x00" * 6
    wrong_m = bytes(body) + protocol.crc16(body).to_bytes(2, "little")
    empty = bytearray(good[:10])
    empty[8], empty[9] = 0, 0
    empty_frame = bytes(empty) + protocol.crc16(empty).to_bytes(2, "little")
    cases = {
        "short": good[:11],
        "version": wrong_version,
        "oversize": good + b"\x00",
        "crc": bad_crc,
        "accel_count": wrong_m,
        "empty": empty_frame,
    }
    dec = Decoder(info)
    for reason, data in cases.items():
        dec.feed(data)
        assert list(dec.events()) == [BadFrame(reason, len(data))], reason
    dec.feed(flipped_sample)
    assert list(dec.events()) == [BadFrame("crc", len(good))]
    stats = dec.statistics()
    assert stats.bad_frames == 7 and stats.frames == 0
    assert stats.bad_by_reason["crc"] == 2


def test_byte_by_byte_feeding_yields_only_bad_frames(rng: np.random.Generator) -> None:
    info = make_info()
    good = Wearable(info, rng).next()
    dec = Decoder(info)
    for i in range(len(good)):
        dec.feed(good[i : i + 1])
    assert list(dec.events()) == [BadFrame("short", 1)] * len(good)


def test_stream_wrapped_in_garbage_decodes_the_same(rng: np.random.Generator) -> None:
    info = make_info()
    w = Wearable(info, rng)
    packets = [w.next(int(n)) for n in rng.integers(1, 60, size=50)]
    clean = frames(decode_all(Decoder(info), packets))
    noisy: list[bytes] = []
    for p in packets:
        noisy.append(rng.bytes(int(rng.integers(0, 300))))
        noisy.append(p)
        noisy.append(p[: int(rng.integers(0, len(p)))])
    noisy.append(b"")
    dec = Decoder(info)
    got = decode_all(dec, noisy)
    assert frames(got) == clean
    assert not [e for e in got if isinstance(e, Gap | Reset)]
    stats = dec.statistics()
    assert stats.frames + stats.bad_frames + stats.duplicates == stats.notifications == 151


def test_misuse_raises_value_error() -> None:
    info = make_info()
    enc = Encoder(info)
    z = np.zeros
    with pytest.raises(ValueError, match=r"shape \(2, n\)"):
        enc.encode(z((3, 10), int), z((3, 1), int), 0)
    with pytest.raises(ValueError, match="needs 1 accelerometer"):
        enc.encode(z((2, 10), int), z((3, 0), int), 0)
    with pytest.raises(ValueError, match="int16"):
        enc.encode(np.full((2, 10), 40000), z((3, 1), int), 0)
    with pytest.raises(ValueError, match="integers"):
        enc.encode(z((2, 10)), z((3, 1)), 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lead_off"):
        enc.encode(z((2, 10), int), z((3, 1), int), 0, lead_off=128)
    with pytest.raises(ValueError, match="1 <= n <= 255"):
        enc.encode(z((2, 256), int), z((3, 13), int), 0)
    with pytest.raises(TypeError):
        Decoder(info).feed("01 02")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        protocol.control_set_rates(1000, 30)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"accel_rate_hz": 30}, "must divide"),
        ({"emg_sites": ()}, "channels"),
        ({"emg_uv_per_lsb": 0.1}, "float32"),
        ({"accel_g_per_lsb": -1.0}, "float32"),
        ({"block_emg_samples": 0}, "block_emg_samples"),
    ],
)
def test_invalid_device_info(change: dict[str, object], message: str) -> None:
    fields = dataclasses.asdict(make_info())
    fields.update(change)
    with pytest.raises(InvalidDeviceInfoError, match=message):
        DeviceInfo(**fields)


def test_device_info_from_garbage_raises_only_invalid_device_info(
    rng: np.random.Generator,
) -> None:
    good = make_info().to_bytes()
    for n in range(len(good)):
        with pytest.raises(InvalidDeviceInfoError):
            DeviceInfo.from_bytes(good[:n])
    parsed = 0
    for _ in range(3000):
        raw = bytearray(good)
        raw[int(rng.integers(len(raw)))] = int(rng.integers(256))
        try:
            info = DeviceInfo.from_bytes(bytes(raw))
        except InvalidDeviceInfoError:
            continue
        parsed += 1
        assert DeviceInfo.from_bytes(info.to_bytes()) == info
    assert parsed > 100


def test_quantising_physical_units_round_trips_within_half_a_count(
    rng: np.random.Generator,
) -> None:
    info = make_info()  # 0.25 µV and 1/4096 g per count
    emg_uv = rng.uniform(-8000.0, 8000.0, size=(2, 40))
    accel_g = rng.uniform(-7.9, 7.9, size=(3, 2))
    dec = Decoder(info)
    dec.feed(Encoder(info).encode(emg_to_counts(info, emg_uv), accel_to_counts(info, accel_g), 0))
    (frame,) = frames(list(dec.events()))
    np.testing.assert_allclose(frame.emg, emg_uv, rtol=0, atol=0.125)
    np.testing.assert_allclose(frame.accel, accel_g, rtol=0, atol=0.5 / 4096)


def test_quantising_saturates_like_an_adc() -> None:
    info = make_info()
    counts = emg_to_counts(
        info, np.array([[1e9, -1e9, np.inf, np.nan], [8191.9, -8192.0, 0.1, 0.13]])
    )
    assert counts.dtype == np.int16
    np.testing.assert_array_equal(counts, [[32767, -32768, 32767, 0], [32767, -32768, 0, 1]])
    with pytest.raises(ValueError, match=r"shape \(2, n\)"):
        emg_to_counts(info, np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"shape \(3, m\)"):
        accel_to_counts(info, np.zeros((2, 4)))
