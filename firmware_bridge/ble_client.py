"""The BLE link to one wearable: scan, connect, subscribe, watch, recover. The only bleak import.

::

    async with BleClient(settings.wearable) as link:      # starts the supervisor task
        async for packet in link.packets():               # RawPacket(t_mono, data)
            decoder.feed(packet.data)

No bleak type leaks out: packets are ``RawPacket``, state is ``LinkStatistics``, failures are
``LinkError``/``DeviceNotFoundError`` (``firmware_bridge/errors.py``). Two wearables (left and
right calf) are two ``BleClient`` instances.

Design (``shared/notes/ble.md`` §1):

- the notify callback is sync and O(1): it stamps the bytes with ``monotonic()`` and puts a
  ``RawPacket`` into a bounded queue; when the queue is full the packet is dropped and counted
  (the sample index later turns the hole into a ``Gap``);
- every connection is a fresh client from bleak-retry-connector's ``establish_connection``, and
  the old client is always ``await``-disconnected (bounded) before the next one, so watchers of
  abandoned clients cannot duplicate notifications (hbldh/bleak#83); callbacks carry a connection
  generation and a stale one is ignored and counted;
- recovery ladder: connect cycle fails → capped exponential backoff with jitter
  (``next_delay``); connected but silent for ``silence_timeout_s`` → drop and reconnect;
  ``power_cycle_after_failures`` cycles in a row without data → power-cycle the adapter (an
  injectable coroutine, BlueZ ``Adapter1.Powered`` by default); ``exit_after_failures`` → stop,
  and ``packets()`` raises ``LinkError`` so the daemon exits and systemd restarts it;
- a wearable whose device info we cannot use (``DeviceInfo.check_supported``: rates outside
  what the detector takes) is refused before START: a ``unsupported_device`` link event with
  the reason, one ERROR line, no stream; the cycle counts as failed and backs off like any
  other (no adapter power-cycle: the adapter is fine), so the device is tried again later.

Constructors take ``sleep`` (backoff) and ``monotonic`` (packet stamps, silence) and a
``BleBackend`` (bleak's ``backend=`` hook): tests run this very module over
``bumble_backend`` against ``virtual_wearable``. Never imports ``bedside`` or ``detector``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError
from bleak_retry_connector import close_stale_connections_by_address, establish_connection

from firmware_bridge import protocol
from firmware_bridge.errors import DeviceNotFoundError, LinkError, UnsupportedDeviceError
from firmware_bridge.link_settings import WearableSettings
from firmware_bridge.protocol import DeviceInfo, InvalidDeviceInfoError
from firmware_bridge.source import LinkEvent, RawPacket

logger = logging.getLogger(__name__)

STATS_LOG_INTERVAL_S = 60.0  # house-style §6: a periodic INFO line summarises statistics()
POWER_CYCLE_OFF_S = 1.0  # pause between Powered=false and Powered=true


class LinkState(enum.StrEnum):
    IDLE = "idle"
    SCANNING = "scanning"
    CONNECTING = "connecting"
    STREAMING = "streaming"
    BACKOFF = "backoff"
    POWER_CYCLING = "power_cycling"
    FAILED = "failed"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class LinkStatistics:
    """Counters and current values of one link (house-style §2: immutable, named fields)."""

    state: LinkState
    address: str  # of the wearable last found ("" before)
    packets: int  # notifications queued
    bytes: int  # bytes in those notifications
    queue_drops: int  # notifications dropped because the consumer was behind
    stale_notifications: int  # from a client that is no longer current (ignored)
    connects: int  # successful connections (incl. the first)
    reconnects: int  # connects after the first
    link_losses: int  # unsolicited disconnects while streaming
    silence_timeouts: int  # connected, but no notification for silence_timeout_s
    connect_failures: int  # cycles that failed before streaming (scan, connect, setup)
    not_found: int  # scans that timed out
    power_cycles: int
    failures_in_row: int  # cycles in a row without data
    unsupported_devices: int  # connects refused because the device info is unsupported
    mtu: int | None  # ATT_MTU of the current/last connection
    max_payload_bytes: int | None  # ATT_MTU − 3: longest notification that arrives whole
    rssi_dbm: int | None  # of the last advertisement seen
    battery_percent: int | None
    device_info: DeviceInfo | None
    last_packet_t_mono: float | None


@dataclass(frozen=True, slots=True)
class BleBackend:
    """bleak's ``backend=`` classes; ``None`` = the platform's own (BlueZ on the Pi)."""

    scanner: type[BaseBleakScanner] | None = None
    client: type[BaseBleakClient] | None = None


def next_delay(
    attempt: int, *, base_s: float = 1.0, cap_s: float = 60.0, jitter: float = 0.2, u: float = 0.0
) -> float:
    """Delay (s) before connect cycle ``attempt + 1``: ``min(cap, base·2^attempt)·(1 − jitter·u)``.

    ``u`` in [0, 1) is the random draw (injected, so the function stays pure); the jitter only
    shortens, so the cap holds. ``attempt`` 0 follows a cycle that delivered data.
    """
    if attempt < 0 or base_s < 0 or cap_s < 0 or not 0 <= jitter <= 1 or not 0 <= u <= 1:
        raise ValueError(
            f"need attempt, base_s, cap_s >= 0 and jitter, u in [0, 1]; got "
            f"{attempt}, {base_s}, {cap_s}, {jitter}, {u}"
        )
    raw = cap_s if attempt >= 64 else min(cap_s, base_s * 2.0**attempt)
    return raw * (1.0 - jitter * u)


async def bluez_power_cycle(adapter: str = "hci0") -> None:
    """Last-resort rung: ``org.bluez.Adapter1.Powered`` off, then on, over the system D-Bus.

    On machines without that adapter (dev/CI kernels lack Bluetooth) it only logs.
    """
    if not Path("/sys/class/bluetooth", adapter).exists():
        logger.warning("no Bluetooth adapter %s on this machine: power-cycle skipped", adapter)
        return
    from dbus_fast import BusType, Message, MessageType, Variant
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        for powered in (False, True):
            reply = await bus.call(
                Message(
                    destination="org.bluez",
                    path=f"/org/bluez/{adapter}",
                    interface="org.freedesktop.DBus.Properties",
                    member="Set",
                    signature="ssv",
                    body=["org.bluez.Adapter1", "Powered", Variant("b", powered)],
                )
            )
            if reply is None or reply.message_type == MessageType.ERROR:
                detail = reply.error_name if reply is not None else "no reply"
                raise LinkError(f"power-cycling {adapter} failed: {detail}")
            if not powered:
                await asyncio.sleep(POWER_CYCLE_OFF_S)
    finally:
        bus.disconnect()


WEARABLE_NAME_PREFIX = "crampwatch"  # PROTOCOL.md §1: advertised names start with this


@dataclass(frozen=True, slots=True)
class FoundWearable:
    """A crampwatch wearable seen advertising: its name, address and last RSSI (dBm)."""

    name: str
    address: str
    rssi_dbm: int


async def scan(
    duration_s: float,
    *,
    backend: BleBackend | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> list[FoundWearable]:
    """Listen ``duration_s`` for crampwatch wearables; strongest signal first, one per address.

    A wearable is an advertiser whose name starts with ``crampwatch`` or that lists the
    crampwatch service UUID (PROTOCOL.md §1). Raises ``LinkError`` when scanning is impossible
    (no adapter, BlueZ or D-Bus unreachable).
    """
    if not duration_s > 0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    found: dict[str, FoundWearable] = {}

    def on_advertisement(device: BLEDevice, adv: AdvertisementData) -> None:
        name = adv.local_name or device.name or ""
        uuids = {uuid.lower() for uuid in adv.service_uuids}
        if name.startswith(WEARABLE_NAME_PREFIX) or protocol.SERVICE_UUID in uuids:
            found[device.address] = FoundWearable(name, device.address, adv.rssi)

    scanner_backend = (backend or BleBackend()).scanner
    try:
        async with BleakScanner(on_advertisement, backend=scanner_backend):
            await sleep(duration_s)
    except (BleakError, OSError) as exc:  # OSError: no D-Bus socket (no BlueZ on this machine)
        raise LinkError(
            f"cannot scan for wearables (is Bluetooth on and BlueZ running?): {exc}"
        ) from exc
    return sorted(found.values(), key=lambda w: (-w.rssi_dbm, w.address))


_CLOSED = object()
_FAILED = object()


class BleClient:
    """Keeps one wearable connected and streams its notifications (see the module docstring)."""

    def __init__(
        self,
        settings: WearableSettings,
        *,
        backend: BleBackend | None = None,
        label: str = "",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        power_cycle: Callable[[], Awaitable[None]] = bluez_power_cycle,
        on_event: Callable[[LinkEvent], None] | None = None,
    ) -> None:
        self.settings = settings
        self._backend = backend or BleBackend()
        self.label = label or settings.address or settings.name
        self._sleep = sleep
        self._monotonic = monotonic
        self._rand = rand
        self._power_cycle = power_cycle
        self._on_event = on_event
        # One spare slot: the callback stops at queue_packets, the spare carries the end marker.
        self._queue: asyncio.Queue[RawPacket | object] = asyncio.Queue(settings.queue_packets + 1)
        self._task: asyncio.Task[None] | None = None
        self._client: BleakClient | None = None
        self._generation = 0
        self._link_lost = asyncio.Event()
        self._failure: LinkError | None = None
        self._state = LinkState.IDLE
        self._address = ""
        self._packets = self._bytes = self._queue_drops = self._stale = 0
        self._connects = self._link_losses = self._silences = 0
        self._connect_failures = self._not_found = self._power_cycles = self._failures = 0
        self._unsupported = 0
        self._mtu: int | None = None
        self._rssi: int | None = None
        self._battery: int | None = None
        self._info: DeviceInfo | None = None
        self._last_rx: float | None = None

    # -- public API --------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Start the supervisor task (scan → connect → stream → recover)."""
        if self._task is not None:
            raise RuntimeError("BleClient already started")
        if self._backend.client is None and self.settings.address:
            # A link left by a crashed run would make every connect fail (ble.md §1).
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.settings.disconnect_timeout_s):
                    await close_stale_connections_by_address(self.settings.address)
        self._task = asyncio.create_task(self._supervise(), name=f"ble-{self.label}")

    async def close(self) -> None:
        """Stop the supervisor, disconnect, end ``packets()``."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # Bounded: a library call that swallows the cancellation must not keep the daemon
            # from stopping (SIGTERM must end it within systemd's TimeoutStopSec).
            done, _ = await asyncio.wait({task}, timeout=self.settings.disconnect_timeout_s + 2.0)
            if not done:
                stack = "".join(
                    f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}; "
                    for frame in task.get_stack()
                )
                logger.warning("%s: supervisor did not stop when cancelled (%s)", self.label, stack)
            elif not task.cancelled() and task.exception() is not None:
                logger.debug("%s: supervisor ended with %r", self.label, task.exception())
        await self._release()
        if self._state is not LinkState.FAILED:
            self._set_state(LinkState.CLOSED)
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(_CLOSED)

    async def packets(self) -> AsyncIterator[RawPacket]:
        """Notifications in arrival order; ends after ``close()``; ``LinkError`` on give-up."""
        while True:
            item = await self._queue.get()
            if isinstance(item, RawPacket):
                yield item
                continue
            self._queue.put_nowait(item)  # leave the end marker for any later reader
            if item is _FAILED:
                assert self._failure is not None
                raise self._failure
            return

    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def device_info(self) -> DeviceInfo | None:
        """The wearable's device info once read on connect (``PacketSource``)."""
        return self._info

    def statistics(self) -> LinkStatistics:
        return LinkStatistics(
            state=self._state,
            address=self._address,
            packets=self._packets,
            bytes=self._bytes,
            queue_drops=self._queue_drops,
            stale_notifications=self._stale,
            connects=self._connects,
            reconnects=max(0, self._connects - 1),
            link_losses=self._link_losses,
            silence_timeouts=self._silences,
            connect_failures=self._connect_failures,
            not_found=self._not_found,
            power_cycles=self._power_cycles,
            failures_in_row=self._failures,
            unsupported_devices=self._unsupported,
            mtu=self._mtu,
            max_payload_bytes=None if self._mtu is None else self._mtu - 3,
            rssi_dbm=self._rssi,
            battery_percent=self._battery,
            device_info=self._info,
            last_packet_t_mono=self._last_rx,
        )

    # -- callbacks (run on the loop: O(1), never block) ----------------------------------------
    def _on_notify(self, generation: int, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        if generation != self._generation:
            self._stale += 1  # a watcher of an abandoned client (hbldh/bleak#83)
            return
        now = self._monotonic()
        self._last_rx = now
        self._failures = 0  # data flows: the recovery ladder starts over
        if self._queue.qsize() >= self.settings.queue_packets:
            self._queue_drops += 1  # the consumer is behind; never block here
            return
        self._queue.put_nowait(RawPacket(now, bytes(data)))
        self._packets += 1
        self._bytes += len(data)

    def _on_battery(self, generation: int, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        if generation == self._generation and data:
            self._battery = data[0]
            self._emit("battery", percent=data[0])

    def _on_disconnected(self, generation: int, _client: BleakClient) -> None:
        if generation == self._generation:
            self._link_lost.set()  # the supervisor does the work

    # -- supervisor --------------------------------------------------------------------------
    async def _supervise(self) -> None:
        try:
            await self._ladder()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or an unclassified library error: end packets() loudly
            logger.exception("%s: BLE supervisor crashed", self.label)
            self._failures = max(self._failures, 1)
            self._give_up(f"{self.label}: BLE supervisor crashed: {exc!r}")

    async def _ladder(self) -> None:
        settings = self.settings
        power_cycled = False
        while True:
            streamed = unsupported = False
            try:
                device = await self._find()
                self._set_state(LinkState.CONNECTING)
                client = await self._connect(device)
                await self._prepare(client)
                self._set_state(LinkState.STREAMING)
                streamed = await self._watch()
            except UnsupportedDeviceError:
                self._connect_failures += 1
                unsupported = True  # _prepare logged it
            except (BleakError, LinkError, TimeoutError, EOFError, BrokenPipeError) as exc:
                self._connect_failures += 1
                logger.warning("%s: connect cycle failed: %s", self.label, exc)
            finally:
                await self._release()
            if streamed:
                power_cycled = False  # _on_notify already reset the failure count
            else:
                self._failures += 1
            self._log_statistics()
            if self._failures >= settings.exit_after_failures:
                self._give_up()
                return
            if (
                self._failures >= settings.power_cycle_after_failures
                and not power_cycled
                and not unsupported
            ):
                power_cycled = True
                await self._do_power_cycle()
            self._set_state(LinkState.BACKOFF)
            await self._sleep(
                next_delay(
                    self._failures,
                    base_s=settings.backoff_base_s,
                    cap_s=settings.backoff_cap_s,
                    jitter=settings.backoff_jitter,
                    u=self._rand(),
                )
            )

    async def _find(self) -> BLEDevice:
        """Scan until the wearable advertises (by address, else by name)."""
        self._set_state(LinkState.SCANNING)
        settings = self.settings
        found: asyncio.Future[tuple[BLEDevice, AdvertisementData]] = (
            asyncio.get_running_loop().create_future()
        )

        def on_advertisement(device: BLEDevice, adv: AdvertisementData) -> None:
            if settings.address:
                match = device.address.upper() == settings.address.upper()
            else:
                match = (adv.local_name or device.name) == settings.name
            if match and not found.done():
                found.set_result((device, adv))

        target = settings.address or f"name {settings.name!r}"
        async with BleakScanner(on_advertisement, backend=self._backend.scanner):
            try:
                async with asyncio.timeout(settings.scan_timeout_s):
                    device, adv = await found
            except TimeoutError:
                self._not_found += 1
                raise DeviceNotFoundError(
                    f"{self.label}: no wearable with {target} seen in {settings.scan_timeout_s} s",
                    address=settings.address,
                ) from None
        self._address = device.address
        self._rssi = adv.rssi
        self._emit("rssi", rssi_dbm=adv.rssi, address=device.address)
        return device

    async def _connect(self, device: BLEDevice) -> BleakClient:
        self._generation += 1
        generation = self._generation
        self._link_lost.clear()
        try:
            client = await establish_connection(
                BleakClient,
                device,
                self.label,
                disconnected_callback=functools.partial(self._on_disconnected, generation),
                max_attempts=self.settings.connect_attempts,
                timeout=self.settings.connect_timeout_s,
                backend=self._backend.client,
            )
        except BleakError as exc:
            raise LinkError(f"{self.label}: {exc}") from exc
        self._client = client
        if client.is_connected:  # a backend may report attempts that failed inside the retries
            self._link_lost.clear()
        return client

    async def _prepare(self, client: BleakClient) -> None:
        """Read device info and battery, subscribe, send START (PROTOCOL.md §3, §4)."""
        generation = self._generation
        data_char = client.services.get_characteristic(protocol.DATA_CHAR_UUID)
        info_char = client.services.get_characteristic(protocol.DEVICE_INFO_CHAR_UUID)
        control_char = client.services.get_characteristic(protocol.CONTROL_CHAR_UUID)
        if data_char is None or info_char is None or control_char is None:
            raise LinkError(f"{self.label}: {client.address} lacks the crampwatch GATT service")
        # BlueZ reports mtu_size 23 unless asked; the characteristic knows MTU − 3 (ble.md §1).
        self._mtu = data_char.max_write_without_response_size + 3
        try:
            info = DeviceInfo.from_bytes(await client.read_gatt_char(info_char))
        except InvalidDeviceInfoError as exc:
            raise LinkError(f"{self.label}: {exc}") from exc
        self._refuse_if_unsupported(client.address, info)
        self._info = info
        await self._read_battery(client)
        battery_char = client.services.get_characteristic(protocol.BATTERY_LEVEL_CHAR_UUID)
        if battery_char is not None and "notify" in battery_char.properties:
            await client.start_notify(battery_char, functools.partial(self._on_battery, generation))
        await client.start_notify(data_char, functools.partial(self._on_notify, generation))
        await client.write_gatt_char(control_char, protocol.control_start(), response=True)
        self._connects += 1
        self._emit(
            "connected",
            address=client.address,
            mtu=self._mtu,
            reconnect=self._connects > 1,
        )
        self._emit(
            "device_info",
            emg_rate_hz=info.emg_rate_hz,
            accel_rate_hz=info.accel_rate_hz,
            n_emg_channels=info.n_emg_channels,
            leg=info.leg.name.lower(),
            firmware=".".join(map(str, info.firmware_version)),
        )
        logger.info(
            "%s: connected to %s (MTU %d, %d EMG ch at %d Hz, battery %s %%)",
            self.label,
            client.address,
            self._mtu,
            info.n_emg_channels,
            info.emg_rate_hz,
            self._battery,
        )

    def _refuse_if_unsupported(self, address: str, info: DeviceInfo) -> None:
        """Raise UnsupportedDeviceError (after the link event and one ERROR line) if we cannot
        use this device: never START a stream nobody can decode."""
        try:
            info.check_supported()
        except UnsupportedDeviceError as exc:
            self._unsupported += 1
            self._emit(
                "unsupported_device",
                reason=exc.reason,
                address=address,
                emg_rate_hz=info.emg_rate_hz,
                accel_rate_hz=info.accel_rate_hz,
                firmware=".".join(map(str, info.firmware_version)),
            )
            logger.error("%s: %s refused, %s; trying again later", self.label, address, exc)
            raise

    async def _read_battery(self, client: BleakClient) -> None:
        char = client.services.get_characteristic(protocol.BATTERY_LEVEL_CHAR_UUID)
        if char is None:
            return
        value = await client.read_gatt_char(char)
        if value:
            self._battery = value[0]
            self._emit("battery", percent=value[0])

    async def _watch(self) -> bool:
        """Wait until the link drops or goes silent; True if notifications arrived on it."""
        settings = self.settings
        packets_before = self._packets + self._queue_drops
        start = self._monotonic()
        next_battery = start + settings.battery_poll_s
        next_log = start + STATS_LOG_INTERVAL_S
        while True:
            if self._link_lost.is_set():
                self._link_losses += 1
                self._emit("disconnected", reason="link lost")
                logger.warning("%s: link lost", self.label)
                break
            now = self._monotonic()
            last = self._last_rx if self._last_rx is not None and self._last_rx > start else start
            quiet_s = now - last
            if quiet_s >= settings.silence_timeout_s:
                self._silences += 1
                self._emit("silence", quiet_s=round(quiet_s, 3))
                logger.warning("%s: no data for %.1f s, reconnecting", self.label, quiet_s)
                break
            if now >= next_battery and self._client is not None:
                next_battery = now + settings.battery_poll_s
                with contextlib.suppress(BleakError, TimeoutError):
                    await self._read_battery(self._client)
            if now >= next_log:
                next_log = now + STATS_LOG_INTERVAL_S
                self._log_statistics()
            wait_s = min(settings.silence_timeout_s - quiet_s, next_battery - now, next_log - now)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(wait_s, 0.0)):
                    await self._link_lost.wait()
        return self._packets + self._queue_drops > packets_before

    async def _release(self) -> None:
        """Disconnect the current client (bounded, best effort) before any next one."""
        client, self._client = self._client, None
        self._generation += 1  # from here on, its callbacks are stale
        if client is None:
            return
        try:
            async with asyncio.timeout(self.settings.disconnect_timeout_s):
                await client.disconnect()
        except (BleakError, TimeoutError, EOFError, BrokenPipeError) as exc:
            logger.debug("%s: disconnect: %s", self.label, exc)

    async def _do_power_cycle(self) -> None:
        self._set_state(LinkState.POWER_CYCLING)
        self._power_cycles += 1
        self._emit("power_cycle", failures_in_row=self._failures)
        logger.warning(
            "%s: %d cycles without data: power-cycling the adapter", self.label, self._failures
        )
        try:
            await self._power_cycle()
        except (LinkError, OSError) as exc:
            logger.error("%s: power-cycle failed: %s", self.label, exc)

    def _give_up(self, message: str = "") -> None:
        self._set_state(LinkState.FAILED)
        self._failure = LinkError(
            message
            or f"{self.label}: no data after {self._failures} connect cycles"
            f" ({self._power_cycles} adapter power-cycles); giving up"
        )
        self._emit("failed", failures_in_row=self._failures)
        logger.error("%s", self._failure)
        with contextlib.suppress(asyncio.QueueFull):  # the spare slot: never full
            self._queue.put_nowait(_FAILED)

    # -- helpers -----------------------------------------------------------------------------
    def _set_state(self, state: LinkState) -> None:
        if state is not self._state:
            self._state = state
            self._emit("state", state=state.value)

    def _emit(self, kind: str, **fields: object) -> None:
        if self._on_event is not None:
            self._on_event(LinkEvent(self._monotonic(), kind, fields))

    def _log_statistics(self) -> None:
        s = self.statistics()
        logger.info(
            "%s: %s, packets %d (%d B), queue drops %d, reconnects %d, link losses %d, "
            "silences %d, failed cycles %d, power-cycles %d, MTU %s, RSSI %s dBm, battery %s %%",
            self.label,
            s.state.value,
            s.packets,
            s.bytes,
            s.queue_drops,
            s.reconnects,
            s.link_losses,
            s.silence_timeouts,
            s.connect_failures,
            s.power_cycles,
            s.mtu,
            s.rssi_dbm,
            s.battery_percent,
        )
