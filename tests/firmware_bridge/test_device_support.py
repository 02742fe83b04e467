"""Every device the protocol allows decodes; the ones we cannot use are refused by name.

Issue #16 item 2: a device announcing an EMG rate >= 24,856 Hz (the protocol allows 65,535)
overflowed the decoder's one-day gap limit (86,400 x rate >= 2**31) and raised in every tool.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import protocol
from firmware_bridge.codec import Decoder, Encoder, Frame, Gap
from firmware_bridge.errors import LinkError, UnsupportedDeviceError
from firmware_bridge.protocol import (
    SUPPORTED_ACCEL_RATE_HZ,
    SUPPORTED_EMG_RATE_HZ,
    DeviceInfo,
    Leg,
    Site,
)


@st.composite
def device_infos(draw: st.DrawFn) -> DeviceInfo:
    """Any DeviceInfo the protocol (PROTOCOL.md §3) allows, supported by us or not."""
    accel = draw(st.integers(1, 0xFFFF))
    emg = accel * draw(st.integers(1, 0xFFFF // accel))
    f32 = st.floats(2.0**-20, 1024.0, width=32)
    return DeviceInfo(
        emg_rate_hz=emg,
        accel_rate_hz=accel,
        emg_sites=tuple(draw(st.lists(st.sampled_from(Site), min_size=1, max_size=6))),
        emg_uv_per_lsb=draw(f32),
        accel_g_per_lsb=draw(f32),
        leg=draw(st.sampled_from(Leg)),
        firmware_version=(draw(st.integers(0, 255)), draw(st.integers(0, 255)), 0),
        block_emg_samples=draw(st.integers(1, 255)),
        max_blocks_per_notification=draw(st.integers(1, 255)),
    )


def _supported(info: DeviceInfo) -> bool:
    return (SUPPORTED_EMG_RATE_HZ[0] <= info.emg_rate_hz <= SUPPORTED_EMG_RATE_HZ[1]
            and SUPPORTED_ACCEL_RATE_HZ[0] <= info.accel_rate_hz <= SUPPORTED_ACCEL_RATE_HZ[1])


@pytest.mark.parametrize("emg_rate_hz", [24_855, 24_856, 30_000, 65_535])
def test_high_rates_make_a_decoder(emg_rate_hz: int) -> None:
    info = DeviceInfo(emg_rate_hz=emg_rate_hz, accel_rate_hz=emg_rate_hz,
                      emg_sites=(Site.SOLEUS,), emg_uv_per_lsb=0.5, accel_g_per_lsb=1 / 1024)
    Decoder(info)  # used to raise ValueError: max_gap_samples must be 1..2**31-1


@settings(max_examples=300, deadline=None)
@given(info=device_infos(), seed=st.integers(0, 2**32 - 1), first=st.integers(0, 2**32 - 6 * 255),
       sizes=st.lists(st.integers(1, 255), min_size=1, max_size=6))
def test_any_valid_device_round_trips(info: DeviceInfo, seed: int, first: int,
                                      sizes: list[int]) -> None:
    # (a stream crossing the 2**32 index wrap may Reset, PROTOCOL.md §2.1: test_codec covers it)
    rng = np.random.default_rng(seed)
    enc, dec = Encoder(info), Decoder(info)
    sent: list[tuple[np.ndarray, np.ndarray]] = []
    index = first
    for n in sizes:
        _, m = protocol.accel_span(info, index % protocol.INDEX_MODULO, n)
        emg = rng.integers(-32768, 32768, (info.n_emg_channels, n), dtype=np.int16)
        acc = rng.integers(-32768, 32768, (3, m), dtype=np.int16)
        dec.feed(enc.encode(emg, acc, index))
        sent.append((emg, acc))
        index += n
    frames = list(dec.events())
    assert all(isinstance(f, Frame) for f in frames)
    assert len(frames) == len(sent)
    for frame, (emg, acc) in zip(frames, sent, strict=True):
        assert isinstance(frame, Frame)
        np.testing.assert_array_equal(frame.emg, emg * float(info.emg_uv_per_lsb))
        np.testing.assert_array_equal(frame.accel, acc * float(info.accel_g_per_lsb))


@settings(max_examples=300, deadline=None)
@given(info=device_infos())
def test_the_support_check_refuses_exactly_the_unsupported(info: DeviceInfo) -> None:
    assert DeviceInfo.from_bytes(info.to_bytes()) == info
    if _supported(info):
        info.check_supported()
        return
    with pytest.raises(UnsupportedDeviceError, match=r"Hz is outside the supported range"):
        info.check_supported()


def test_the_refusal_names_the_field_and_the_range() -> None:
    info = DeviceInfo(emg_rate_hz=30_000, accel_rate_hz=50, emg_sites=(Site.SOLEUS,),
                      emg_uv_per_lsb=0.5, accel_g_per_lsb=1 / 1024)
    with pytest.raises(UnsupportedDeviceError) as err:
        info.check_supported()
    assert str(err.value) == ("unsupported device: emg_rate_hz 30000 Hz is outside the "
                              "supported range 500-4000 Hz")
    assert isinstance(err.value, LinkError)
    assert err.value.reason == str(err.value).removeprefix("unsupported device: ")


def test_a_forward_jump_at_65535_hz_is_still_a_gap() -> None:
    info = DeviceInfo(emg_rate_hz=65_535, accel_rate_hz=65_535, emg_sites=(Site.SOLEUS,),
                      emg_uv_per_lsb=0.5, accel_g_per_lsb=1 / 1024)
    enc, dec = Encoder(info), Decoder(info)
    one = np.zeros((1, 1), dtype=np.int16)
    dec.feed(enc.encode(one, np.zeros((3, 1), dtype=np.int16), 0))
    dec.feed(enc.encode(one, np.zeros((3, 1), dtype=np.int16), 3600 * 65_535))  # an hour later
    events = list(dec.events())
    assert isinstance(events[1], Gap) and events[1].emg_samples_missing == 3600 * 65_535 - 1


def test_the_supported_range_matches_the_detector() -> None:
    from detector.rates import MAX_ACCEL_RATE_HZ, MAX_EMG_RATE_HZ, MIN_ACCEL_SAMPLES_PER_FRAME
    from detector.settings import DetectorSettings

    s = DetectorSettings()
    assert SUPPORTED_EMG_RATE_HZ[1] == MAX_EMG_RATE_HZ
    assert SUPPORTED_EMG_RATE_HZ[0] >= s.min_emg_rate_hz
    assert (MIN_ACCEL_SAMPLES_PER_FRAME / s.frame_s, MAX_ACCEL_RATE_HZ) == SUPPORTED_ACCEL_RATE_HZ
