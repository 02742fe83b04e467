"""The virtual wearable: payload source (quantise + encode), GATT service, pacing, fault knobs.

Checked through bumble's own GATT client (level (a) of ble.md §2) so these do not depend on the
bleak backend; the production client runs against the wearable in ``test_ble_client.py``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from bumble.core import UUID
from bumble.device import Peer
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge import protocol
from firmware_bridge.bumble_backend import BumbleCentral, new_link
from firmware_bridge.codec import Decoder, Frame
from firmware_bridge.edf import EdfSignalSpec, EdfWriter
from firmware_bridge.errors import InputError
from firmware_bridge.virtual_wearable import (
    ChunkPayloads,
    VirtualWearable,
    WearableFaults,
    edf_chunks,
)
from tests.firmware_bridge.test_ble_support import INFO, chunks


def decode_all(info: protocol.DeviceInfo, values: list[bytes]) -> list[Frame]:
    decoder = Decoder(info)
    for value in values:
        decoder.feed(value)
    return [e for e in decoder.events() if isinstance(e, Frame)]


def test_chunk_payloads_quantise_and_encode_every_sample(rng: np.random.Generator) -> None:
    data = chunks(rng, 2.1, chunk_s=0.3)  # chunk edges off the 50-sample notification grid
    data.append((np.array([[1e6, -1e6], [0.1, 0.13]]), np.zeros((3, 0))))  # rails; accel late
    source = ChunkPayloads(data, INFO)
    values: list[bytes] = []
    durations: list[float] = []
    while (payload := source(514)) is not None:
        values.append(payload[0])
        durations.append(payload[1])
    frames = decode_all(INFO, values)
    emg = np.concatenate([f.emg for f in frames], axis=1)
    accel = np.concatenate([f.accel for f in frames], axis=1)
    want_emg = np.concatenate([e for e, _ in data], axis=1)
    want_accel = np.concatenate([a for _, a in data], axis=1)
    assert emg.shape == want_emg.shape == (2, 2102)
    lsb = INFO.emg_uv_per_lsb
    np.testing.assert_allclose(emg[:, :2100], want_emg[:, :2100], rtol=0, atol=lsb / 2)
    assert emg[0, 2100] == 32767 * lsb and emg[0, 2101] == -32768 * lsb  # an ADC saturates
    assert accel.shape == (3, 106)  # sample 105 (EMG index 2100) was missing: held
    np.testing.assert_allclose(accel[:, :105], want_accel, rtol=0, atol=INFO.accel_g_per_lsb / 2)
    np.testing.assert_array_equal(accel[:, 105], accel[:, 104])
    assert [f.first_emg_index for f in frames][:3] == [0, 50, 100]
    assert sum(durations) == pytest.approx(2.102)
    assert all(len(v) <= 514 for v in values)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    cuts=st.lists(st.integers(1, 59), max_size=8),
    sizes=st.lists(st.sampled_from([514, 244, 120, 40, 20]), min_size=1, max_size=5),
)
def test_chunk_boundaries_never_change_the_bytes(
    seed: int, cuts: list[int], sizes: list[int]
) -> None:
    """Same signal, any chunking (incl. empty chunks), any payload limits: identical bytes."""
    rng = np.random.default_rng(seed)
    emg = rng.normal(0.0, 40.0, (2, 1200))
    accel = rng.normal(0.0, 0.5, (3, 60))
    edges = sorted({0, 60, *cuts})  # cut on the accelerometer grid: chunk = EMG k·20.., accel k..
    pieces = [(emg[:, a * 20 : b * 20], accel[:, a:b]) for a, b in itertools.pairwise(edges)] + [
        (emg[:, :0], accel[:, :0])
    ]
    whole, split = ChunkPayloads([(emg, accel)], INFO), ChunkPayloads(pieces, INFO)
    limits = itertools.cycle(sizes)
    while True:
        limit = next(limits)
        a, b = whole(limit), split(limit)
        assert a == b
        if a is None:
            break


def test_chunk_payloads_size_batches_to_the_payload_limit(rng: np.random.Generator) -> None:
    source = ChunkPayloads(chunks(rng, 1.0), INFO)
    sizes = []
    for limit in (514, 100, 30, 20):
        payload = source(limit)
        assert payload is not None
        sizes.append(len(payload[0]))
        assert len(payload[0]) <= max(limit, 22)  # 2 ch + an accel sample need 22 B: cut by MTU
    assert sizes[0] == 12 + 2 * 2 * 50 + 6 * 3


def test_chunk_payloads_refuse_wrong_shapes(rng: np.random.Generator) -> None:
    bad = ChunkPayloads([(np.zeros((3, 100)), np.zeros((3, 5)))], INFO)
    with pytest.raises(ValueError, match=r"\(2, n\)"):
        bad(514)


def test_fault_knobs_are_checked() -> None:
    with pytest.raises(ValueError, match="mtu_cap"):
        WearableFaults(mtu_cap=22)
    with pytest.raises(ValueError):
        WearableFaults(drop_every_stream_s=-1.0)


async def connect_peer(central: BumbleCentral, wearable: VirtualWearable) -> Peer:
    connection = await central.device.connect(wearable.device.random_address, timeout=5.0)
    peer = Peer(connection)
    await peer.request_mtu(517)
    await peer.discover_services()
    for service in peer.services:
        await peer.discover_characteristics(service=service)
    return peer


async def test_gatt_service_device_info_battery_and_control(rng: np.random.Generator) -> None:
    link = new_link()
    central = await BumbleCentral.create(link)
    wearable = VirtualWearable(link, INFO, ChunkPayloads(chunks(rng, 1.0), INFO), speed=None)
    async with wearable:
        peer = await connect_peer(central, wearable)
        info_char = peer.get_characteristics_by_uuid(UUID(protocol.DEVICE_INFO_CHAR_UUID))[0]
        assert protocol.DeviceInfo.from_bytes(await info_char.read_value()) == INFO
        battery = peer.get_characteristics_by_uuid(UUID(protocol.BATTERY_LEVEL_CHAR_UUID))[0]
        assert await battery.read_value() == bytes([87])
        levels: list[bytes] = []
        await battery.subscribe(levels.append)
        await wearable.set_battery(140)
        data = peer.get_characteristics_by_uuid(UUID(protocol.DATA_CHAR_UUID))[0]
        values: list[bytes] = []
        await data.subscribe(values.append)
        control = peer.get_characteristics_by_uuid(UUID(protocol.CONTROL_CHAR_UUID))[0]
        await asyncio.sleep(0.05)
        assert values == [] and wearable.statistics().stream_s == 0  # nothing before START
        await control.write_value(protocol.control_start(), with_response=True)
        async with asyncio.timeout(5):
            await wearable.finished.wait()
            while len(values) < wearable.statistics().sent:
                await asyncio.sleep(0.01)
        frames = decode_all(INFO, values)
        assert sum(f.emg.shape[1] for f in frames) == 1000
        assert levels == [bytes([100])]  # clamped to 100 %
        with pytest.raises(Exception, match="ATT"):
            await control.write_value(b"\x09", with_response=True)


async def test_paced_clock_runs_on_while_disconnected_and_drops_on_schedule(
    rng: np.random.Generator,
) -> None:
    link = new_link()
    central = await BumbleCentral.create(link)
    forever = itertools.cycle(chunks(rng, 2.0))
    faults = WearableFaults(drop_every_stream_s=0.5, max_drops=2)
    wearable = VirtualWearable(link, INFO, ChunkPayloads(forever, INFO), speed=10.0, faults=faults)
    async with wearable:
        peer = await connect_peer(central, wearable)
        values: list[bytes] = []
        data = peer.get_characteristics_by_uuid(UUID(protocol.DATA_CHAR_UUID))[0]
        await data.subscribe(values.append)
        control = peer.get_characteristics_by_uuid(UUID(protocol.CONTROL_CHAR_UUID))[0]
        t0 = time.monotonic()
        await control.write_value(protocol.control_start(), with_response=True)
        async with asyncio.timeout(5):
            while wearable.statistics().drops < 1:
                await asyncio.sleep(0.005)
        first_drop_wall = time.monotonic() - t0
        await asyncio.sleep(0.1)  # 1 s of stream time passes with nobody connected
        stats = wearable.statistics()
    assert stats.drops == 1 and len(values) == 10  # 0.5 s of 50-sample notifications
    assert 0.5 / 10 * 0.8 <= first_drop_wall < 1.0  # paced near 10× real time
    assert stats.lost_unconnected >= 10 and stats.stream_s >= 1.0


async def test_speed_none_pauses_while_nobody_streams(rng: np.random.Generator) -> None:
    link = new_link()
    await BumbleCentral.create(link)
    wearable = VirtualWearable(
        link, INFO, ChunkPayloads(chunks(rng, 1.0), INFO), speed=None, hold_until_start=False
    )
    async with wearable:
        await asyncio.sleep(0.05)
        assert wearable.statistics().stream_s == 0.0 and not wearable.finished.is_set()


async def test_late_advertising_uses_the_injected_sleep() -> None:
    link = new_link()
    delays: list[float] = []
    gate = asyncio.Event()

    async def sleep(delay_s: float) -> None:
        delays.append(delay_s)
        await gate.wait()

    wearable = VirtualWearable(
        link, INFO, lambda _size: None, faults=WearableFaults(advertise_after_s=30.0), sleep=sleep
    )
    async with wearable:
        await asyncio.sleep(0.01)
        assert delays == [30.0] and not wearable.device.is_advertising
        gate.set()
        async with asyncio.timeout(2):
            while not wearable.device.is_advertising:
                await asyncio.sleep(0.005)


def write_edf(path: Path, emg_uv: np.ndarray, accel_g: np.ndarray, *, emg_unit: str = "uV") -> None:
    scale = {"uV": 1.0, "mV": 1e-3}[emg_unit]
    specs = [
        EdfSignalSpec(f"EMG {i}", emg_unit, 1000.0, -10_000.0 * scale, 10_000.0 * scale)
        for i in range(emg_uv.shape[0])
    ] + [EdfSignalSpec(f"Accel {axis}", "g", 50.0, -8.0, 8.0) for axis in "XYZ"]
    with EdfWriter(path, specs, start=datetime(2026, 11, 26, 22, 30)) as writer:
        writer.write([row * scale for row in emg_uv] + list(accel_g))


def test_edf_recording_plays_through_the_wearable_source(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    emg = rng.normal(0.0, 50.0, (2, 3000))
    accel = rng.normal(0.0, 0.3, (3, 150))
    write_edf(tmp_path / "night.edf", emg, accel, emg_unit="mV")  # mV on file, µV out
    night = edf_chunks(str(tmp_path / "night.edf"), records_per_block=1)
    assert (night.emg_rate_hz, night.accel_rate_hz, night.duration_s) == (1000.0, 50.0, 3.0)
    assert night.emg_labels == ("EMG 0", "EMG 1")
    source = ChunkPayloads(night.chunks, INFO)
    values = []
    while (payload := source(514)) is not None:
        values.append(payload[0])
    frames = decode_all(INFO, values)
    got_emg = np.concatenate([f.emg for f in frames], axis=1)
    got_accel = np.concatenate([f.accel for f in frames], axis=1)
    # EDF resolution (20 mV / 65535 ≈ 0.31 µV) plus the wearable's half LSB (0.125 µV)
    np.testing.assert_allclose(got_emg, emg, rtol=0, atol=0.31 / 2 + 0.125 + 1e-9)
    np.testing.assert_allclose(got_accel, accel, rtol=0, atol=16 / 65535 / 2 + 2.0**-13 + 1e-9)


def test_edf_without_emg_or_with_odd_units_is_one_input_error(tmp_path: Path) -> None:
    specs = [EdfSignalSpec(f"Accel {axis}", "g", 50.0, -8.0, 8.0) for axis in "XYZ"]
    with EdfWriter(tmp_path / "a.edf", specs, start=datetime(2026, 11, 26, 22, 30)) as writer:
        writer.write([np.zeros(50)] * 3)
    with pytest.raises(InputError, match="no EMG signal"):
        edf_chunks(str(tmp_path / "a.edf"))
    specs = [EdfSignalSpec("EMG calf", "degC", 1000.0, -1.0, 1.0), *specs]
    with EdfWriter(tmp_path / "b.edf", specs, start=datetime(2026, 11, 26, 22, 30)) as writer:
        writer.write([np.zeros(1000)] + [np.zeros(50)] * 3)
    with pytest.raises(InputError, match="'degC' is not an EMG unit"):
        edf_chunks(str(tmp_path / "b.edf"))
