"""Contract test of ``bumble_backend``: bleak's public API (and bleak-retry-connector) over bumble.

If a bleak or bumble upgrade changes what a backend must do, these fail first (ble.md §2 (b)).
"""

from __future__ import annotations

import asyncio
import struct

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakDeviceNotFoundError, BleakError
from bleak_retry_connector import establish_connection
from bumble import gatt

from firmware_bridge import protocol
from firmware_bridge.bumble_backend import BumbleDeviceDetails
from firmware_bridge.virtual_wearable import ChunkPayloads, VirtualWearable, WearableFaults
from tests.firmware_bridge.test_ble_support import INFO, Air, chunks, make_air


def seq_of(data: bytes | bytearray) -> int:
    return int(struct.unpack_from("<H", data, 2)[0])  # PROTOCOL.md §2.1: seq u16 at offset 2


async def wearable(
    air: Air, rng: np.random.Generator, *, seconds: float = 4.0, **kwargs: object
) -> VirtualWearable:
    w = VirtualWearable(air.link, INFO, ChunkPayloads(chunks(rng, seconds), INFO), **kwargs)  # type: ignore[arg-type]
    await w.start()
    return w


async def test_scan_finds_name_rssi_and_random_static_address(rng: np.random.Generator) -> None:
    air = await make_air()
    w = await wearable(air, rng)
    device = await BleakScanner.find_device_by_name(
        "crampwatch", timeout=2.0, backend=air.central.scanner_backend
    )
    assert device is not None
    assert device.address == w.address
    assert isinstance(device.details, BumbleDeviceDetails)
    assert device.details.address.is_random  # connect must use the advertised type
    seen = await BleakScanner.discover(0.1, return_adv=True, backend=air.central.scanner_backend)
    _, adv = seen[w.address]
    assert adv.local_name == "crampwatch" and adv.rssi < 0
    await w.stop()


async def test_connect_mtu_services_reads_and_in_order_notifications(
    rng: np.random.Generator,
) -> None:
    air = await make_air()
    w = await wearable(air, rng, speed=None)
    device = await BleakScanner.find_device_by_address(
        w.address, 2.0, backend=air.central.scanner_backend
    )
    assert device is not None
    async with BleakClient(device, backend=air.central.client_backend) as client:
        assert client.is_connected
        assert client.mtu_size == 517  # we asked 517 like BlueZ; the wearable accepts 517
        data = client.services.get_characteristic(protocol.DATA_CHAR_UUID)
        assert data is not None and data.properties == ["notify"]
        assert data.max_write_without_response_size == 514
        info = protocol.DeviceInfo.from_bytes(
            await client.read_gatt_char(protocol.DEVICE_INFO_CHAR_UUID)
        )
        assert info == INFO
        assert (await client.read_gatt_char(protocol.BATTERY_LEVEL_CHAR_UUID))[0] == 87
        received: list[bytes] = []
        await client.start_notify(protocol.DATA_CHAR_UUID, lambda _c, d: received.append(bytes(d)))
        await client.write_gatt_char(protocol.CONTROL_CHAR_UUID, protocol.control_start(), True)
        async with asyncio.timeout(10):
            await w.finished.wait()
            while len(received) < w.statistics().sent:
                await asyncio.sleep(0.01)
        with pytest.raises(BleakError):  # a bad control write comes back as an ATT error
            await client.write_gatt_char(protocol.CONTROL_CHAR_UUID, b"\x7f", True)
    assert not client.is_connected
    assert len(received) == 4000 // 50 >= 80  # 4 s at 50 samples per notification
    assert [seq_of(d) for d in received] == list(range(len(received)))
    await w.stop()


async def test_mtu_cap_23_truncates_silently(rng: np.random.Generator) -> None:
    air = await make_air()
    w = await wearable(
        air, rng, seconds=1.0, speed=None, faults=WearableFaults(mtu_cap=23, size_to_mtu=False)
    )
    device = await BleakScanner.find_device_by_address(
        w.address, 2.0, backend=air.central.scanner_backend
    )
    assert device is not None
    async with BleakClient(device, backend=air.central.client_backend) as client:
        assert client.mtu_size == 23
        received: list[bytes] = []
        await client.start_notify(protocol.DATA_CHAR_UUID, lambda _c, d: received.append(bytes(d)))
        await client.write_gatt_char(protocol.CONTROL_CHAR_UUID, protocol.control_start(), True)
        async with asyncio.timeout(10):
            await w.finished.wait()
            while len(received) < w.statistics().sent:
                await asyncio.sleep(0.01)
    assert len(received) == 20  # 1 s / 50 samples
    assert {len(d) for d in received} == {20}  # 218-byte values cut to MTU − 3, no error anywhere
    await w.stop()


async def test_link_kill_calls_disconnected_callback_and_fresh_client_resumes(
    rng: np.random.Generator,
) -> None:
    air = await make_air()
    w = await wearable(air, rng, seconds=60.0, speed=20.0)
    device = await BleakScanner.find_device_by_address(
        w.address, 2.0, backend=air.central.scanner_backend
    )
    assert device is not None
    lost = asyncio.Event()
    received: list[bytes] = []
    client = await establish_connection(
        BleakClient,
        device,
        "test",
        disconnected_callback=lambda _c: lost.set(),
        backend=air.central.client_backend,
    )
    await client.start_notify(protocol.DATA_CHAR_UUID, lambda _c, d: received.append(bytes(d)))
    await client.write_gatt_char(protocol.CONTROL_CHAR_UUID, protocol.control_start(), True)
    async with asyncio.timeout(5):
        while len(received) < 5:
            await asyncio.sleep(0.01)
    assert await w.cut_link()
    async with asyncio.timeout(2):
        await lost.wait()
    assert not client.is_connected
    with pytest.raises(BleakError, match="Not connected"):
        await client.read_gatt_char(protocol.DEVICE_INFO_CHAR_UUID)
    await client.disconnect()  # always, before the next client (ble.md §1)
    before = len(received)
    again = await establish_connection(
        BleakClient, device, "test", backend=air.central.client_backend
    )
    await again.start_notify(protocol.DATA_CHAR_UUID, lambda _c, d: received.append(bytes(d)))
    await again.write_gatt_char(protocol.CONTROL_CHAR_UUID, protocol.control_start(), True)
    async with asyncio.timeout(5):
        while len(received) < before + 5:
            await asyncio.sleep(0.01)
    seqs = [seq_of(d) for d in received]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # in order, no duplicates
    assert seqs[before] > seqs[before - 1] + 1  # the wearable's clock ran on: seq shows the hole
    await again.disconnect()
    await w.stop()


async def test_pending_request_cancelled_by_link_loss_becomes_bleak_error() -> None:
    """bumble cancels a pending ATT request's future on link loss: it must surface as BleakError."""
    air = await make_air()
    never = asyncio.get_running_loop().create_future()

    async def slow_read(_connection: object) -> bytes:
        await never  # the peripheral never answers
        return b""

    w = VirtualWearable(air.link, INFO, lambda _size: None)
    slow: gatt.Characteristic[bytes] = gatt.Characteristic(
        "d9a200ff-f020-4d75-a4b5-7a8f69780e88",
        gatt.Characteristic.Properties.READ,
        gatt.Characteristic.READABLE,
        gatt.CharacteristicValue[bytes](read=slow_read),
    )
    w.device.add_service(gatt.Service("d9a200fe-f020-4d75-a4b5-7a8f69780e88", [slow]))
    await w.start()
    device = await BleakScanner.find_device_by_address(
        w.address, 2.0, backend=air.central.scanner_backend
    )
    assert device is not None
    client = BleakClient(device, backend=air.central.client_backend)
    await client.connect()
    read = asyncio.create_task(client.read_gatt_char(slow.uuid.to_hex_str("-").lower()))
    await asyncio.sleep(0.05)
    assert not read.done()
    await w.cut_link()
    with pytest.raises(BleakError, match="link lost"):
        await asyncio.wait_for(read, 2.0)
    never.cancel()
    await client.disconnect()
    await w.stop()


async def test_unknown_address_is_device_not_found() -> None:
    air = await make_air()
    client = BleakClient("F0:00:00:00:00:09", backend=air.central.client_backend)
    with pytest.raises(BleakDeviceNotFoundError):
        await client.connect()


async def test_establish_connection_survives_two_links_killed_during_setup(
    rng: np.random.Generator,
) -> None:
    """ble.md §2 (b): two killed links → BleakError each → bleak-retry-connector's third wins."""
    air = await make_air()
    w = await wearable(air, rng, faults=WearableFaults(cut_first_connections=2))
    device = await BleakScanner.find_device_by_address(
        w.address, 2.0, backend=air.central.scanner_backend
    )
    assert device is not None
    callbacks: list[object] = []
    client = await establish_connection(
        BleakClient,
        device,
        "test",
        disconnected_callback=callbacks.append,
        max_attempts=4,
        backend=air.central.client_backend,
    )
    assert client.is_connected and w.statistics().connections == 3
    info = await client.read_gatt_char(protocol.DEVICE_INFO_CHAR_UUID)
    assert protocol.DeviceInfo.from_bytes(info) == INFO
    await asyncio.sleep(0.01)
    assert callbacks == []  # attempts that failed inside connect() raise; they never call back
    await client.disconnect()
    assert callbacks == []  # nor does our own disconnect
    await w.stop()
