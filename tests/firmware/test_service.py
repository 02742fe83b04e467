"""``firmware/service.py`` (aioble GATT server) on CPython, over the boundary fakes.

The GATT table has PROTOCOL.md §1's UUIDs; a connection gets notifications only after START,
sized to its MTU; a notification the stack refuses is sent again, not lost; a link loss powers
the sensors down and advertising resumes; after the reconnect the Pi sees the idle time as a gap.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from firmware import battery
from firmware_bridge import protocol
from firmware_bridge.codec import Decoder, Frame, Gap
from firmware_bridge.protocol import DeviceInfo
from tests.firmware import micropython_fakes as fakes
from tests.firmware.test_frontend import frame


async def settle(condition: object, timeout_s: float = 2.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.001)


async def connect(wearable: Any, mtu: int = 247) -> fakes.Connection:
    """A central connects (the pending ``aioble.advertise`` returns); sampling starts."""
    incoming = fakes.air().incoming
    assert incoming is not None
    link = fakes.Connection(mtu=mtu)
    await incoming.put(link)
    await settle(lambda: wearable.sampler.running)
    return link


async def test_service_streams_recovers_and_reports_battery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fakes.install(monkeypatch)
    from firmware import config, service

    wearable = service.Wearable()
    air = fakes.air()
    table = [[str(c.uuid.value) for c in s.characteristics] for s in air.services]
    assert table == [
        [protocol.DATA_CHAR_UUID, protocol.CONTROL_CHAR_UUID, protocol.DEVICE_INFO_CHAR_UUID],
        ["10777"],  # 0x2A19 Battery Level
    ]
    assert [str(s.uuid.value) for s in air.services] == [protocol.SERVICE_UUID, "6159"]  # 0x180F
    assert air.config["mtu"] == config.PREFERRED_MTU
    info = DeviceInfo.from_bytes(wearable.info_char.value)
    assert info.n_emg_channels == len(config.SITES) and info.emg_rate_hz == config.EMG_RATE_HZ

    run = asyncio.create_task(wearable.run())
    try:
        link = await connect(wearable)
        assert air.adverts[0]["name"] == config.NAME
        assert wearable.battery_char.value == bytes([battery.percent(3800)])
        counter = fakes.Counter.units[0]
        chip = fakes.chip()
        drdy = wearable.drdy

        def edges(n: int) -> None:
            for _ in range(n):
                counter.count += 1
                chip.frame = frame(0, 500, 0)
                assert drdy.handler is not None
                drdy.handler(drdy)

        edges(100)  # before START: taken and dropped (§4), never sent
        await asyncio.sleep(0.02)
        assert wearable.data_char.notified == []
        wearable.control_char.writes.put_nowait((link, protocol.control_start()))
        await settle(lambda: wearable.control.streaming)
        await asyncio.sleep(0.02)  # the sender drops what was taken while stopped
        wearable.data_char.refuse_next = 3  # NimBLE's buffers full three times
        edges(500)
        await settle(lambda: len(wearable.data_char.notified) == 10)
        first = wearable.data_char.notified
        assert {len(d) for d in first} == {12 + 2 * 50 + 6 * 2, 12 + 2 * 50 + 6 * 3}

        link.lost.set()  # link loss
        await settle(lambda: not wearable.sampler.running)
        assert wearable.afe.pwdn.value() == 0  # front end powered down while idle
        fakes.TICKS_MS[0] += 1500  # 1.5 s until the Pi reconnects
        again = await connect(wearable)
        wearable.control_char.writes.put_nowait((again, protocol.control_start()))
        await settle(lambda: wearable.control.streaming)
        await asyncio.sleep(0.02)
        edges(100)
        await settle(lambda: len(wearable.data_char.notified) == 12)
    finally:
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run

    decoder = Decoder(info)
    for data in wearable.data_char.notified:
        decoder.feed(data)
    events = list(decoder.events())
    frames = [e for e in events if isinstance(e, Frame)]
    assert [int.from_bytes(d[2:4], "little") for d in wearable.data_char.notified] == list(
        range(12)
    )  # refused notifications were sent again with the same seq: nothing lost
    assert sum(f.emg.shape[1] for f in frames) == 600
    (gap,) = [e for e in events if isinstance(e, Gap)]
    assert gap.emg_samples_missing == 1500  # exactly the idle time at 1 kHz
    assert len(air.adverts) == 2  # advertising resumed after the link loss


async def test_set_rates_while_stopped_changes_the_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    fakes.install(monkeypatch)
    from firmware import service

    wearable = service.Wearable()
    run = asyncio.create_task(wearable.run())
    try:
        link = await connect(wearable)
        wearable.control_char.writes.put_nowait((link, protocol.control_set_rates(500, 25)))
        await settle(lambda: DeviceInfo.from_bytes(wearable.info_char.value).emg_rate_hz == 500)
        assert fakes.chip().registers[0x01] == 0x02  # CONFIG1: 500 SPS
        wearable.control_char.writes.put_nowait((link, protocol.control_start()))
        wearable.control_char.writes.put_nowait((link, protocol.control_set_batch(2)))
        await settle(lambda: wearable.control.streaming and wearable.packer.batch_samples == 20)
        await asyncio.sleep(0.02)
        counter = fakes.Counter.units[0]
        drdy = wearable.drdy
        for _ in range(100):
            counter.count += 1
            assert drdy.handler is not None
            drdy.handler(drdy)
        await settle(lambda: len(wearable.data_char.notified) == 5)
    finally:
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
    assert {d[8] for d in wearable.data_char.notified} == {20}  # SET_BATCH 2 × 10 samples
    assert wearable.control.refused == 0
