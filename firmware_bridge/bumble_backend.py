"""bleak's public API over bumble's host stack: a scanner and a client backend for ``backend=``.

Level (b) of ``shared/notes/ble.md`` §2: the production ``BleakClient``/``BleakScanner`` and
bleak-retry-connector run unchanged; only the OS layer (BlueZ, kernel, radio) is replaced by a
bumble ``Device`` on a bumble software controller. Together with a bumble peripheral on the same
``LocalLink`` (``virtual_wearable.py``) this tests the BLE path without hardware.

No published bumble backend exists (hbldh/bleak#1681 was closed unmerged), so this one is ours and
``tests/firmware_bridge/test_ble_backend.py`` is its contract test. It follows BlueZ where it
matters to us:

- connect with the advertised address type (random static on the wearable);
- ask for ATT_MTU 517 right after connecting, as BlueZ does on every LE link (the smaller offer
  wins, so the wearable decides);
- every bumble error becomes a ``BleakError``; a link drop during a pending ATT request cancels the
  request's future inside bumble, which we turn into ``BleakError`` too (unless our own task is
  being cancelled) so retry logic sees something it can classify;
- an unsolicited link loss calls ``disconnected_callback`` on the loop.

Connects through one central are serialised: bumble allows one pending LE connection per device,
and BlueZ serialises them as well. Scanning is reference-counted so several scanners (two wearables)
share the central. Imports bleak and bumble only; never ``bedside`` or ``detector``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError
from bumble import core, gatt, gatt_client, hci
from bumble.controller import Controller
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

logger = logging.getLogger(__name__)

REQUESTED_MTU = 517  # BlueZ requests 517 on every LE connection (ble.md §1 "Payload and MTU")
DEFAULT_MTU = 23  # Core spec v5.4 Vol 3 Part F §3.2.8: ATT_MTU before an exchange
DISCONNECT_TIMEOUT_S = 5.0  # bound a disconnect on a dead link; bleak's BlueZ backend uses 10 s

_PROPERTY_NAMES: dict[gatt.Characteristic.Properties, CharacteristicPropertyName] = {
    gatt.Characteristic.Properties.BROADCAST: "broadcast",
    gatt.Characteristic.Properties.READ: "read",
    gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE: "write-without-response",
    gatt.Characteristic.Properties.WRITE: "write",
    gatt.Characteristic.Properties.NOTIFY: "notify",
    gatt.Characteristic.Properties.INDICATE: "indicate",
    gatt.Characteristic.Properties.AUTHENTICATED_SIGNED_WRITES: "authenticated-signed-writes",
    gatt.Characteristic.Properties.EXTENDED_PROPERTIES: "extended-properties",
}

_T = TypeVar("_T")


def uuid_str(value: core.UUID) -> str:
    """bumble UUID → bleak's normalised form: 128-bit, lower case, dashed."""
    little_endian = value.to_bytes(force_128=True)  # bumble stores UUIDs little-endian
    return str(uuid.UUID(bytes=bytes(reversed(little_endian))))


def address_str(address: hci.Address) -> str:
    """``AA:BB:CC:DD:EE:FF`` without bumble's ``/P`` type suffix, as bleak shows addresses."""
    return address.to_string(with_type_qualifier=False)


@dataclass(frozen=True, slots=True)
class BumbleDeviceDetails:
    """``BLEDevice.details`` of a device seen by a bumble scanner: the typed address to dial."""

    address: hci.Address
    advertisement: Advertisement


LE_DATA_LENGTH_OCTETS = 251  # Core spec v5.4 Vol 6 Part B §4.5.10: LE Data Length Extension max


def use_data_length_extension(controller: Controller) -> None:
    """Give a bumble controller 251-octet LE ACL packets (Data Length Extension) instead of 27.

    The Pi's CYW43455 supports DLE (ble.md §1), so a 230-byte notification travels as one ACL
    packet there too; with bumble's default of 27 it would be cut into nine, each costing a trip
    through both Python host stacks. Call before the controller's host powers on.
    """
    controller.le_acl_data_packet_length = LE_DATA_LENGTH_OCTETS
    controller.acl_data_packet_length = LE_DATA_LENGTH_OCTETS


def new_link() -> LocalLink:
    """A fresh virtual air for bumble controllers (typed wrapper: bumble's is untyped)."""
    return LocalLink()  # type: ignore[no-untyped-call]


class BumbleCentral:
    """One bumble ``Device`` on a software controller, playing the Pi's adapter (``hci0``).

    ``scanner_backend`` and ``client_backend`` are bleak backend classes bound to this central;
    pass them as ``BleakScanner(backend=...)`` / ``BleakClient(backend=...)``.
    """

    def __init__(self, device: Device) -> None:
        self.device = device
        self.connect_lock = asyncio.Lock()
        self._scanners: set[BumbleScanner] = set()
        self._scan_lock = asyncio.Lock()
        self._known: dict[str, hci.Address] = {}
        device.on(device.EVENT_ADVERTISEMENT, self._on_advertisement)
        self.scanner_backend: type[BumbleScanner] = type(
            "BumbleScanner", (BumbleScanner,), {"central": self}
        )
        self.client_backend: type[BumbleClient] = type(
            "BumbleClient", (BumbleClient,), {"central": self}
        )

    @classmethod
    async def create(
        cls, link: LocalLink, *, address: str = "C0:FF:EE:00:00:01", name: str = "central"
    ) -> BumbleCentral:
        """Build a controller on ``link``, a bumble host/device on it, and power it on."""
        controller = Controller(name, link=link)
        use_data_length_extension(controller)
        device = Device(
            name=name,
            address=hci.Address(address),
            host=Host(controller, AsyncPipeSink(controller)),
        )
        await device.power_on()
        return cls(device)

    def known_address(self, address: str) -> hci.Address | None:
        """The typed address last advertised under ``address`` (case-insensitive)."""
        return self._known.get(address.upper())

    async def start_scan(self, scanner: BumbleScanner) -> None:
        async with self._scan_lock:
            if not self._scanners:
                await _bumble_call(self.device.start_scanning(filter_duplicates=False))
            self._scanners.add(scanner)

    async def stop_scan(self, scanner: BumbleScanner) -> None:
        async with self._scan_lock:
            was_active = bool(self._scanners)
            self._scanners.discard(scanner)
            if was_active and not self._scanners:
                await _bumble_call(self.device.stop_scanning())

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        self._known[address_str(advertisement.address)] = advertisement.address
        for scanner in list(self._scanners):
            scanner.on_advertisement(advertisement)


async def _bumble_call(awaitable: Awaitable[_T]) -> _T:
    """Await a bumble operation; bumble errors and the cancelled-future quirk → ``BleakError``.

    bumble cancels a pending ATT request's future when the link drops
    (``gatt_client.Client.on_disconnection``); the awaiting task then sees ``CancelledError``
    although nobody cancelled it. If our task is not being cancelled, that is a link loss.
    """
    try:
        return await awaitable
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        raise BleakError("link lost during a GATT request (bumble cancelled it)") from None
    except (core.TimeoutError, TimeoutError) as exc:
        raise TimeoutError(str(exc) or "bumble operation timed out") from exc
    except core.BaseBumbleError as exc:
        raise BleakError(f"bumble: {exc}") from exc


class BumbleScanner(BaseBleakScanner):
    """``BaseBleakScanner`` over a ``BumbleCentral`` (bound via ``.scanner_backend``)."""

    central: ClassVar[BumbleCentral]

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)

    async def start(self) -> None:
        self.seen_devices = {}
        await self.central.start_scan(self)

    async def stop(self) -> None:
        await self.central.stop_scan(self)

    def on_advertisement(self, advertisement: Advertisement) -> None:
        """Turn one bumble advertisement report into bleak's ``AdvertisementData``."""
        data = advertisement.data
        name_raw = data.get(core.AdvertisingData.COMPLETE_LOCAL_NAME, raw=True) or data.get(
            core.AdvertisingData.SHORTENED_LOCAL_NAME, raw=True
        )
        local_name = bytes(name_raw).decode("utf-8", "replace") if name_raw else None
        manufacturer: dict[int, bytes] = {}
        for raw in data.get_all(core.AdvertisingData.MANUFACTURER_SPECIFIC_DATA, raw=True):
            if len(raw) >= 2:
                manufacturer[int.from_bytes(raw[:2], "little")] = bytes(raw[2:])
        service_uuids: list[str] = []
        for type_id, size in (
            (core.AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, 2),
            (core.AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, 2),
            (core.AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, 16),
            (core.AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, 16),
        ):
            for raw in data.get_all(type_id, raw=True):
                for i in range(0, len(raw) - size + 1, size):
                    service_uuids.append(uuid_str(core.UUID.from_bytes(bytes(raw[i : i + size]))))
        if not self.is_allowed_uuid(service_uuids):
            return
        tx_power = advertisement.tx_power
        adv = AdvertisementData(
            local_name=local_name,
            manufacturer_data=manufacturer,
            service_data={},
            service_uuids=service_uuids,
            tx_power=None if tx_power == Advertisement.TX_POWER_NOT_AVAILABLE else tx_power,
            rssi=advertisement.rssi,
            platform_data=(advertisement,),
        )
        address = address_str(advertisement.address)
        device = self.create_or_update_device(
            address,
            address,
            local_name,
            BumbleDeviceDetails(advertisement.address, advertisement),
            adv,
        )
        self.call_detection_callbacks(device, adv)


class BumbleClient(BaseBleakClient):
    """``BaseBleakClient`` over a ``BumbleCentral`` (bound via ``.client_backend``)."""

    central: ClassVar[BumbleCentral]

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self._typed_address: hci.Address | None = None
        self._name = self.address
        if isinstance(address_or_ble_device, BLEDevice):
            self._name = address_or_ble_device.name or self.address
            details = address_or_ble_device.details
            if isinstance(details, BumbleDeviceDetails):
                self._typed_address = details.address
        self._connection: Connection | None = None
        self._lost: asyncio.Future[None] | None = None  # resolved when the link goes down
        self._mtu = DEFAULT_MTU
        self._closing = False
        self._established = False
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        return self._name

    @property
    def mtu_size(self) -> int:
        return self._mtu

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Dial the advertised address, exchange MTU (ask 517), discover every attribute.

        ``kwargs``: ``timeout`` (s) overrides the constructor's; others (e.g.
        ``dangerous_use_bleak_cache`` from bleak-retry-connector) are accepted and ignored.
        """
        if self._connection is not None:
            return
        timeout = float(kwargs.get("timeout", self._timeout))
        target = self._typed_address or self.central.known_address(self.address)
        if target is None:
            raise BleakDeviceNotFoundError(
                self.address, f"Device with address {self.address} was not found."
            )
        async with self.central.connect_lock:
            connection = await _bumble_call(self.central.device.connect(target, timeout=timeout))
        self._connection = connection
        self._lost = asyncio.get_running_loop().create_future()
        self._closing = False
        self._established = False  # a drop before connect() returns raises instead of calling back
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            peer = Peer(connection)
            self._mtu = await self._att(lambda: peer.request_mtu(REQUESTED_MTU))
            await self._att(peer.discover_services)
            for service in peer.services:
                await self._att(functools.partial(peer.discover_characteristics, service=service))
                for char in service.characteristics:
                    await self._att(
                        functools.partial(peer.discover_descriptors, characteristic=char)
                    )
            self.services = self._collect(peer)
            self._established = True
        except BaseException:
            await self.disconnect()
            raise
        if pair:
            logger.warning("%s: pairing is not supported by the bumble backend", self.address)

    def _collect(self, peer: Peer) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        for service in peer.services:
            bleak_service = BleakGATTService(service, service.handle, uuid_str(service.uuid))
            collection.add_service(bleak_service)
            for characteristic in service.characteristics:
                properties = [
                    name
                    for flag, name in _PROPERTY_NAMES.items()
                    if characteristic.properties & flag
                ]
                bleak_char = BleakGATTCharacteristic(
                    characteristic,
                    characteristic.handle,
                    uuid_str(characteristic.uuid),
                    properties,
                    lambda: self._mtu - 3,  # ATT_MTU − 3: opcode + handle (Vol 3 Part F §3.4.7.1)
                    bleak_service,
                )
                collection.add_characteristic(bleak_char)
                for descriptor in characteristic.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor, descriptor.handle, uuid_str(descriptor.type), bleak_char
                        )
                    )
        return collection

    def _on_disconnection(self, reason: int) -> None:
        logger.debug("%s: link down, reason 0x%02X", self.address, reason)
        self._connection = None
        self._subscribers.clear()
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        if self._established and not self._closing and self._disconnected_callback is not None:
            asyncio.get_running_loop().call_soon(self._disconnected_callback)

    async def disconnect(self) -> None:
        """Close the link (bounded by ``DISCONNECT_TIMEOUT_S``); a no-op when already down."""
        connection = self._connection
        if connection is None:
            return
        self._closing = True
        try:
            async with asyncio.timeout(DISCONNECT_TIMEOUT_S):
                await _bumble_call(connection.disconnect())
        except (BleakError, TimeoutError) as exc:
            logger.debug("%s: disconnect: %s", self.address, exc)
        self._connection = None

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise BleakError("pairing is not supported by the bumble backend")

    async def unpair(self) -> None:
        raise BleakError("pairing is not supported by the bumble backend")

    def _live(self) -> Connection:
        if self._connection is None:
            raise BleakError("Not connected")
        return self._connection

    async def _att(self, operation: Callable[[], Awaitable[_T]]) -> _T:
        """Run one GATT operation on the live link; a link loss before or during it → BleakError.

        bumble cancels only the request in flight when a link drops; one sent after the drop
        would wait for its 30 s GATT timeout, so every operation also races the link loss.
        """
        self._live()
        lost = self._lost
        assert lost is not None
        op = asyncio.ensure_future(operation())
        waiters: list[asyncio.Future[Any]] = [op, lost]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not op.done():
                op.cancel()
                with contextlib.suppress(asyncio.CancelledError, core.BaseBumbleError):
                    await op
        if op.cancelled() and lost.done():
            raise BleakError("link lost during a GATT request")
        return await _bumble_call(op)

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        proxy: gatt_client.CharacteristicProxy[bytes] = characteristic.obj
        return bytearray(await self._att(proxy.read_value))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        proxy: gatt_client.DescriptorProxy = descriptor.obj
        return bytearray(await self._att(proxy.read_value))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        proxy: gatt_client.CharacteristicProxy[bytes] = characteristic.obj
        await self._att(lambda: proxy.write_value(bytes(data), with_response=response))

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        proxy: gatt_client.DescriptorProxy = descriptor.obj
        await self._att(lambda: proxy.write_value(bytes(data), with_response=True))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        proxy: gatt_client.CharacteristicProxy[bytes] = characteristic.obj

        def subscriber(value: bytes) -> None:
            callback(bytearray(value))

        self._subscribers[characteristic.handle] = subscriber
        await self._att(lambda: proxy.subscribe(subscriber, prefer_notify=True))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        proxy: gatt_client.CharacteristicProxy[bytes] = characteristic.obj
        subscriber = self._subscribers.pop(characteristic.handle, None)
        await self._att(lambda: proxy.unsubscribe(subscriber))
