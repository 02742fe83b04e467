"""The production ``BleClient`` (bleak + bleak-retry-connector) against the virtual wearable.

Every test drives ``firmware_bridge.ble_client`` unchanged through bleak's ``backend=`` hook and
``bumble_backend`` on bumble's virtual controllers, with the real codec decoding what arrives.
Backoff sleeps are injected (recorded, never waited); timeouts are short.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.ble_client import (
    BleClient,
    LinkState,
    bluez_power_cycle,
    next_delay,
)
from firmware_bridge.codec import BadFrame, Decoder, Frame, Gap
from firmware_bridge.errors import LinkError
from firmware_bridge.protocol import Leg
from firmware_bridge.source import LinkEvent, RawPacket
from firmware_bridge.virtual_wearable import ChunkPayloads, VirtualWearable, WearableFaults
from tests.firmware_bridge.test_ble_support import (
    INFO,
    SAMPLES_PER_NOTIFICATION,
    Air,
    RecordingSleep,
    chunks,
    fast_settings,
    make_air,
    open_fds,
)


def make_wearable(
    air: Air, rng: np.random.Generator, seconds: float, **kwargs: object
) -> tuple[VirtualWearable, list[tuple[np.ndarray, np.ndarray]]]:
    data = chunks(rng, seconds)
    wearable = VirtualWearable(air.link, INFO, ChunkPayloads(data, INFO), **kwargs)  # type: ignore[arg-type]
    return wearable, data


async def drain(
    link: BleClient, wearable: VirtualWearable, decoder: Decoder, *, timeout_s: float = 20.0
) -> list[RawPacket]:
    """Feed packets to the decoder until the wearable has finished and all it sent arrived."""
    packets: list[RawPacket] = []

    async def consume() -> None:
        async for packet in link.packets():
            packets.append(packet)
            decoder.feed(packet.data)

    def done() -> bool:
        s = link.statistics()
        sent = wearable.statistics().sent
        return (
            wearable.finished.is_set()
            and s.packets + s.queue_drops >= sent
            and len(packets) == s.packets
        )

    task = asyncio.create_task(consume())
    try:
        async with asyncio.timeout(timeout_s):
            while not done():
                if task.done():
                    task.result()  # re-raise what ended the stream
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return packets


def frames_and_gaps(decoder: Decoder) -> tuple[list[Frame], list[Gap], list[BadFrame]]:
    frames: list[Frame] = []
    gaps: list[Gap] = []
    bad: list[BadFrame] = []
    for event in decoder.events():
        if isinstance(event, Frame):
            frames.append(event)
        elif isinstance(event, Gap):
            gaps.append(event)
        elif isinstance(event, BadFrame):
            bad.append(event)
    return frames, gaps, bad


def quantised(data: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    emg = np.concatenate([e for e, _ in data], axis=1)
    accel = np.concatenate([a for _, a in data], axis=1)
    return (
        np.clip(np.rint(emg / INFO.emg_uv_per_lsb), -32768, 32767) * INFO.emg_uv_per_lsb,
        np.clip(np.rint(accel / INFO.accel_g_per_lsb), -32768, 32767) * INFO.accel_g_per_lsb,
    )


# -- backoff ------------------------------------------------------------------------------------
def test_next_delay_doubles_caps_and_jitters_downwards() -> None:
    assert [next_delay(a, base_s=1.0, cap_s=60.0, jitter=0.0) for a in range(8)] == [
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        32.0,
        60.0,
        60.0,
    ]
    assert next_delay(3, base_s=1.0, cap_s=60.0, jitter=0.5, u=1.0) == 4.0
    assert next_delay(10_000, cap_s=60.0, jitter=0.0) == 60.0
    with pytest.raises(ValueError, match="attempt"):
        next_delay(-1)
    with pytest.raises(ValueError):
        next_delay(1, jitter=1.5)


@given(
    attempt=st.integers(0, 200),
    base=st.floats(0.0, 10.0),
    cap=st.floats(0.0, 600.0),
    jitter=st.floats(0.0, 1.0),
    u=st.floats(0.0, 1.0),
)
def test_next_delay_stays_within_cap_and_never_shrinks_with_attempts(
    attempt: int, base: float, cap: float, jitter: float, u: float
) -> None:
    d = next_delay(attempt, base_s=base, cap_s=cap, jitter=jitter, u=u)
    assert 0.0 <= d <= cap
    assert d >= min(cap, base * 2.0 ** min(attempt, 64)) * (1 - jitter) - 1e-9
    assert next_delay(attempt + 1, base_s=base, cap_s=cap, jitter=jitter, u=u) >= d


# -- streams ------------------------------------------------------------------------------------
async def test_paced_stream_arrives_whole_in_order_and_keeps_up(rng: np.random.Generator) -> None:
    air = await make_air()
    wearable, data = make_wearable(air, rng, 3.0, speed=5.0)
    events: list[LinkEvent] = []
    decoder = Decoder(INFO)
    async with (
        wearable,
        BleClient(fast_settings(), backend=air.backend, on_event=events.append) as link,
    ):
        t0 = time.monotonic()
        async with asyncio.timeout(5):
            while link.statistics().packets < 5:
                await asyncio.sleep(0.01)
        await wearable.set_battery(42)  # the Battery Level notification reaches the client
        packets = await drain(link, wearable, decoder)
        elapsed = time.monotonic() - t0
        stats = link.statistics()
    frames, gaps, bad = frames_and_gaps(decoder)
    assert not gaps and not bad
    assert len(packets) == len(frames) == wearable.statistics().sent == 3000 // 50
    assert [f.first_emg_index for f in frames] == list(range(0, 3000, SAMPLES_PER_NOTIFICATION))
    t = [p.t_mono for p in packets]
    assert t == sorted(t)
    emg_q, accel_q = quantised(data)
    np.testing.assert_array_equal(np.concatenate([f.emg for f in frames], axis=1), emg_q)
    np.testing.assert_array_equal(np.concatenate([f.accel for f in frames], axis=1), accel_q)
    assert elapsed < 3.0 / 5.0 * 3 + 1.0  # keeps up with (5×) real time; no throughput claim
    assert stats.connects == 1 and stats.reconnects == 0 and stats.queue_drops == 0
    assert stats.mtu == 517 and stats.max_payload_bytes == 514
    assert stats.battery_percent == 42 and stats.rssi_dbm is not None and stats.rssi_dbm < 0
    assert [e.fields["percent"] for e in events if e.kind == "battery"] == [87, 42]
    assert stats.device_info == INFO and stats.device_info.leg is Leg.LEFT
    assert stats.state is LinkState.STREAMING and link.state is LinkState.CLOSED
    kinds = [e.kind for e in events]
    assert kinds.index("rssi") < kinds.index("connected") < kinds.index("device_info")


async def test_mtu_cap_23_truncated_notifications_become_bad_frames(
    rng: np.random.Generator,
) -> None:
    air = await make_air()
    wearable, _ = make_wearable(
        air, rng, 1.0, speed=None, faults=WearableFaults(mtu_cap=23, size_to_mtu=False)
    )
    decoder = Decoder(INFO)
    async with wearable, BleClient(fast_settings(), backend=air.backend) as link:
        packets = await drain(link, wearable, decoder)
        stats = link.statistics()
    frames, _, bad = frames_and_gaps(decoder)
    assert stats.mtu == 23 and stats.max_payload_bytes == 20
    assert {len(p.data) for p in packets} == {20}
    assert not frames and len(bad) == len(packets) == 20
    assert decoder.statistics().bad_frames == 20


async def test_mtu_23_with_sized_batches_is_slow_but_whole(rng: np.random.Generator) -> None:
    """One channel fits MTU 23 (12 + 2 + 6 = 20 B with an accel sample); two would not."""
    air = await make_air()
    one = dataclasses.replace(INFO, emg_sites=INFO.emg_sites[:1])
    data = chunks(rng, 0.2, info=one)
    wearable = VirtualWearable(
        air.link, one, ChunkPayloads(data, one), speed=None, faults=WearableFaults(mtu_cap=23)
    )
    decoder = Decoder(one)
    async with wearable, BleClient(fast_settings(), backend=air.backend) as link:
        packets = await drain(link, wearable, decoder)
    frames, gaps, bad = frames_and_gaps(decoder)
    assert not gaps and not bad
    assert max(len(p.data) for p in packets) <= 20
    emg = np.concatenate([e for e, _ in data], axis=1)
    np.testing.assert_allclose(
        np.concatenate([f.emg for f in frames], axis=1), emg, rtol=0, atol=one.emg_uv_per_lsb / 2
    )
    assert len(frames) > 200 / 4  # 3-4 samples per notification instead of 50


async def test_link_drop_mid_stream_reconnects_and_the_gap_is_exact(
    rng: np.random.Generator,
) -> None:
    air = await make_air()
    wearable, data = make_wearable(
        air, rng, 4.0, speed=10.0, faults=WearableFaults(drop_every_stream_s=1.0, max_drops=1)
    )
    sleep = RecordingSleep()
    decoder = Decoder(INFO)
    async with wearable, BleClient(fast_settings(), backend=air.backend, sleep=sleep) as link:
        await drain(link, wearable, decoder)
        stats = link.statistics()
    frames, gaps, bad = frames_and_gaps(decoder)
    w = wearable.statistics()
    assert w.drops == 1 and stats.link_losses == 1 and stats.connects == 2
    assert stats.reconnects == 1 and not bad
    assert len(gaps) == 1
    assert gaps[0].at_index == 1000  # the drop came after 1 s of samples
    assert w.lost_unconnected > 0  # the sensor clock ran on while the link was down
    assert gaps[0].emg_samples_missing == round(w.lost_unconnected_s * INFO.emg_rate_hz)
    got = sum(f.emg.shape[1] for f in frames)
    assert got + gaps[0].emg_samples_missing == 4000
    emg_q, _ = quantised(data)
    after = frames[[f.first_emg_index for f in frames].index(1000 + gaps[0].emg_samples_missing)]
    np.testing.assert_array_equal(
        after.emg, emg_q[:, after.first_emg_index : after.first_emg_index + after.emg.shape[1]]
    )
    assert sleep.delays and max(sleep.delays) <= 0.01  # a cycle with data: first backoff step


async def test_late_advertising_connects_when_it_appears(rng: np.random.Generator) -> None:
    air = await make_air()
    wearable, _ = make_wearable(
        air, rng, 0.5, speed=None, faults=WearableFaults(advertise_after_s=0.4)
    )
    decoder = Decoder(INFO)
    settings = fast_settings(scan_timeout_s=0.15)
    async with wearable, BleClient(settings, backend=air.backend, sleep=RecordingSleep()) as link:
        t0 = time.monotonic()
        await drain(link, wearable, decoder)
        stats = link.statistics()
    assert time.monotonic() - t0 >= 0.4
    assert stats.not_found >= 2 and stats.connect_failures == stats.not_found
    assert stats.connects == 1 and stats.failures_in_row == 0  # data resets the ladder
    frames, gaps, _ = frames_and_gaps(decoder)
    assert not gaps and sum(f.emg.shape[1] for f in frames) == 500


async def test_stall_while_connected_triggers_silence_reconnect(rng: np.random.Generator) -> None:
    air = await make_air()
    wearable, _ = make_wearable(
        air, rng, 6.0, speed=4.0, faults=WearableFaults(stall_at_stream_s=(1.0,))
    )
    decoder = Decoder(INFO)
    events: list[LinkEvent] = []
    settings = fast_settings(silence_timeout_s=0.4)
    async with (
        wearable,
        BleClient(
            settings, backend=air.backend, sleep=RecordingSleep(), on_event=events.append
        ) as link,
    ):
        await drain(link, wearable, decoder)
        stats = link.statistics()
    w = wearable.statistics()
    assert w.stalls == 1 and w.lost_stalled > 0
    assert stats.silence_timeouts == 1 and stats.connects == 2 and stats.link_losses == 0
    silence = next(e for e in events if e.kind == "silence")
    quiet = silence.fields["quiet_s"]
    assert isinstance(quiet, float) and quiet >= 0.4
    frames, gaps, _ = frames_and_gaps(decoder)
    assert len(gaps) == 1 and gaps[0].at_index == 1000
    assert frames[-1].first_emg_index + frames[-1].emg.shape[1] == 6000  # resumed to the end


async def test_slow_consumer_overflow_drops_are_counted(rng: np.random.Generator) -> None:
    air = await make_air()
    wearable, _ = make_wearable(air, rng, 2.0, speed=None)
    async with wearable, BleClient(fast_settings(queue_packets=8), backend=air.backend) as link:
        async with asyncio.timeout(10):
            await wearable.finished.wait()
            while link.statistics().packets + link.statistics().queue_drops < 40:
                await asyncio.sleep(0.01)
        stats = link.statistics()
        queued = [await anext(link.packets()) for _ in range(8)]
    assert wearable.statistics().sent == 40
    assert stats.packets == 8 and stats.queue_drops == 32
    decoder = Decoder(INFO)
    for packet in queued:
        decoder.feed(packet.data)
    frames, gaps, _ = frames_and_gaps(decoder)
    assert [f.first_emg_index for f in frames] == list(range(0, 400, 50))  # the oldest kept
    assert not gaps


async def test_hundred_forced_link_drops_all_recover(rng: np.random.Generator) -> None:
    """100 drops in a 10× stream: each recovers, gaps are exact, no duplicates, nothing leaks."""
    air = await make_air()
    n_drops = 100
    forever = itertools.cycle(chunks(rng, 4.0))  # the sensor never runs out here
    wearable = VirtualWearable(
        air.link,
        INFO,
        ChunkPayloads(forever, INFO),
        speed=10.0,
        faults=WearableFaults(drop_every_stream_s=0.2, max_drops=n_drops),
    )
    decoder = Decoder(INFO)
    tasks_before = len(asyncio.all_tasks())
    packets: list[RawPacket] = []
    async with wearable:
        fds_before = open_fds()
        async with BleClient(fast_settings(), backend=air.backend, sleep=RecordingSleep()) as link:
            async with asyncio.timeout(45.0):
                async for packet in link.packets():
                    packets.append(packet)
                    decoder.feed(packet.data)
                    # after the last reconnect, a few packets prove the stream resumed
                    if (
                        link.statistics().connects == n_drops + 1
                        and len(packets) >= 4 * n_drops + 8
                    ):
                        break
            stats = link.statistics()
        fds_after = open_fds()
    frames, gaps, bad = frames_and_gaps(decoder)
    d = decoder.statistics()
    assert wearable.statistics().drops == n_drops
    assert stats.link_losses == n_drops and stats.connects == n_drops + 1
    assert stats.connect_failures == 0 and stats.failures_in_row == 0
    assert stats.stale_notifications == 0 and d.duplicates == 0 and not bad
    assert d.frames == len(packets) == len(frames)
    end = frames[-1].first_emg_index + frames[-1].emg.shape[1]
    assert d.emg_samples + d.emg_samples_missing == end  # every sample is a frame or in a Gap
    assert len(gaps) >= n_drops // 2  # most reconnects lose samples: the clock ran on at 10×
    assert fds_after <= fds_before + 2
    assert len(asyncio.all_tasks()) <= tasks_before + 2


async def test_no_wearable_power_cycles_then_gives_up_with_link_error() -> None:
    air = await make_air()
    cycles: list[float] = []

    async def power_cycle() -> None:
        cycles.append(time.monotonic())

    sleep = RecordingSleep()
    settings = fast_settings(
        scan_timeout_s=0.05,
        power_cycle_after_failures=2,
        exit_after_failures=4,
        backoff_base_s=1.0,
        backoff_cap_s=60.0,
        backoff_jitter=0.5,
    )
    events: list[LinkEvent] = []
    async with BleClient(
        settings,
        backend=air.backend,
        sleep=sleep,
        rand=lambda: 0.5,
        power_cycle=power_cycle,
        on_event=events.append,
    ) as link:
        with pytest.raises(LinkError, match="no data after 4 connect cycles"):
            async for _ in link.packets():
                pass
        with pytest.raises(LinkError):  # every reader learns it, not just the first
            await anext(link.packets())
        stats = link.statistics()
    assert len(cycles) == 1 and stats.power_cycles == 1
    assert stats.not_found == 4 and stats.failures_in_row == 4 and stats.state is LinkState.FAILED
    assert sleep.delays == [next_delay(a, jitter=0.5, u=0.5) for a in (1, 2, 3)] == [1.5, 3.0, 6.0]
    kinds = [e.kind for e in events]
    assert kinds.index("power_cycle") < kinds.index("failed")


async def test_default_power_cycle_only_logs_without_an_adapter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    await bluez_power_cycle("hci-absent")  # dev/CI machines have no Bluetooth adapter
    assert "power-cycle skipped" in caplog.text


async def test_two_wearables_at_once_by_address_and_by_name(rng: np.random.Generator) -> None:
    air = await make_air()
    left_info = INFO
    right_info = type(INFO)(**{**{f: getattr(INFO, f) for f in INFO.__slots__}, "leg": Leg.RIGHT})
    left = VirtualWearable(
        air.link,
        left_info,
        ChunkPayloads(chunks(rng, 2.0), left_info),
        address="F0:CA:1F:00:00:0A",
        name="crampwatch-L",
        speed=8.0,
    )
    right = VirtualWearable(
        air.link,
        right_info,
        ChunkPayloads(chunks(rng, 2.0), right_info),
        address="F0:CA:1F:00:00:0B",
        name="crampwatch-R",
        speed=8.0,
    )
    left_dec, right_dec = Decoder(left_info), Decoder(right_info)
    async with (
        left,
        right,
        BleClient(fast_settings(address=left.address), backend=air.backend) as left_link,
        BleClient(fast_settings(name="crampwatch-R"), backend=air.backend) as right_link,
    ):
        await asyncio.gather(drain(left_link, left, left_dec), drain(right_link, right, right_dec))
        left_stats, right_stats = left_link.statistics(), right_link.statistics()
    assert left_stats.address == left.address and right_stats.address == right.address
    assert left_stats.device_info is not None and left_stats.device_info.leg is Leg.LEFT
    assert right_stats.device_info is not None and right_stats.device_info.leg is Leg.RIGHT
    for dec in (left_dec, right_dec):
        frames, gaps, bad = frames_and_gaps(dec)
        assert not gaps and not bad and sum(f.emg.shape[1] for f in frames) == 2000


async def test_corrupt_notifications_are_delivered_and_counted_by_the_codec(
    rng: np.random.Generator,
) -> None:
    air = await make_air()
    wearable, _ = make_wearable(
        air, rng, 2.0, speed=None, faults=WearableFaults(corrupt_every=4, seed=3)
    )
    decoder = Decoder(INFO)
    async with wearable, BleClient(fast_settings(), backend=air.backend) as link:
        await drain(link, wearable, decoder)
    w = wearable.statistics()
    frames, _, bad = frames_and_gaps(decoder)
    assert w.corrupted == 10 and len(bad) == w.corrupted  # CRC-16 catches every 1-bit flip
    assert len(frames) == w.sent - w.corrupted


async def test_duplicates_are_delivered_and_dropped_by_the_codec(rng: np.random.Generator) -> None:
    air = await make_air()
    wearable, _ = make_wearable(air, rng, 1.0, speed=None, faults=WearableFaults(duplicate_every=3))
    decoder = Decoder(INFO)
    async with wearable, BleClient(fast_settings(), backend=air.backend) as link:
        async with asyncio.timeout(10):
            await wearable.finished.wait()
            want = wearable.statistics().sent + wearable.statistics().duplicated
            while link.statistics().packets < want:
                await asyncio.sleep(0.01)
        for _ in range(want):
            decoder.feed((await anext(link.packets())).data)
    frames, gaps, bad = frames_and_gaps(decoder)
    assert wearable.statistics().duplicated == 6
    assert decoder.statistics().duplicates == 6 and not gaps and not bad
    assert [f.first_emg_index for f in frames] == list(range(0, 1000, 50))  # each seq once


async def test_wrong_device_info_is_a_counted_failure_with_a_clear_message(
    rng: np.random.Generator, caplog: pytest.LogCaptureFixture
) -> None:
    air = await make_air()
    bad_info = bytes([9]) + INFO.to_bytes()[1:]  # protocol version 9
    wearable, _ = make_wearable(air, rng, 1.0, faults=WearableFaults(device_info_override=bad_info))
    settings = fast_settings(exit_after_failures=2, power_cycle_after_failures=5)
    async with wearable, BleClient(settings, backend=air.backend, sleep=RecordingSleep()) as link:
        with pytest.raises(LinkError, match="no data after 2 connect cycles"):
            async for _ in link.packets():
                pass
        stats = link.statistics()
    assert stats.connect_failures == 2 and stats.connects == 0 and stats.device_info is None
    assert "protocol version 9" in caplog.text


async def test_links_cut_during_setup_are_retried_by_establish_connection(
    rng: np.random.Generator,
) -> None:
    """Late advertising plus two links killed right after connecting: the third attempt wins."""
    air = await make_air()
    wearable, _ = make_wearable(
        air,
        rng,
        0.5,
        speed=None,
        faults=WearableFaults(advertise_after_s=0.2, cut_first_connections=2),
    )
    decoder = Decoder(INFO)
    settings = fast_settings(scan_timeout_s=0.1)
    async with wearable, BleClient(settings, backend=air.backend, sleep=RecordingSleep()) as link:
        await drain(link, wearable, decoder)
        stats = link.statistics()
    assert wearable.statistics().connections == 3
    assert stats.connects == 1 and stats.not_found >= 1
    frames, gaps, _ = frames_and_gaps(decoder)
    assert not gaps and sum(f.emg.shape[1] for f in frames) == 500
