"""A virtual calf wearable: a bumble GATT peripheral speaking the crampwatch protocol.

It runs on a bumble software controller on a ``LocalLink`` (``shared/notes/ble.md`` §2 (a)), so
the production ``BleClient`` reaches it through bleak and ``bumble_backend`` exactly as it would
reach the real wearable through BlueZ. GATT layout, device info and control opcodes come from
``protocol.py`` (PROTOCOL.md §1, §3, §4); notification bytes come from a pluggable
``PayloadSource`` (``ChunkPayloads`` quantises and encodes simulator or EDF chunks).

Like the firmware, its sensor clock (started by the first START write) never waits for the
link: samples produced while nobody is streaming are lost, so the sample index in the next
notification shows the gap (at ``speed=None`` the clock waits for a subscriber instead). Batches
are sized to the negotiated ATT_MTU − 3, as PROTOCOL.md §5 asks of firmware. Fault knobs
(``WearableFaults``): periodic link drops, MTU cap and unsized batches (silent truncation), stalls
while connected (cured by a reconnect), late advertising, corrupt and duplicated notifications,
links cut during the central's setup, a bad device-info value.

Nothing here blocks on a consumer: as over the air, a fast wearable can outrun a slow central,
whose bounded queue then counts drops (``BleClient.statistics().queue_drops``).

Imports bumble, numpy and our protocol/codec; never bleak, ``bedside`` or ``detector``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import numpy as np
import numpy.typing as npt
from bumble import att, core, gatt, hci
from bumble.controller import Controller
from bumble.device import Connection, Device
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from firmware_bridge import protocol
from firmware_bridge.bumble_backend import use_data_length_extension
from firmware_bridge.codec import Encoder, accel_to_counts, emg_to_counts
from firmware_bridge.protocol import DeviceInfo

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Payload = tuple[bytes, float]
"""One notification value and the stream time it covers (s)."""
PayloadSource = Callable[[int], Payload | None]
"""Called with the largest value that fits (bytes); returns the next payload or ``None`` at end."""

MAX_VALUE_SIZE = 512  # Core spec v5.4 Vol 3 Part F §3.2.9: an attribute value is at most 512 B
ADVERTISING_INTERVAL_MS = 20.0  # fast advertising; ble.md measured 0.05 s scan+connect at 20 ms


@dataclass(frozen=True, slots=True, kw_only=True)
class WearableFaults:
    """Fault knobs of the virtual wearable; the defaults are a healthy wearable.

    Times in ``*_stream_s`` are stream seconds (sample time), the rest wall seconds.
    """

    drop_every_stream_s: float = 0.0  # cut the link after this much streamed time (0 = never)
    max_drops: int = 1_000_000  # stop cutting after this many drops
    mtu_cap: int = 517  # largest ATT_MTU the wearable accepts in the exchange
    size_to_mtu: bool = True  # False: always full batches, so a small MTU truncates them
    stall_at_stream_s: tuple[float, ...] = ()  # stop notifying here until the link drops
    advertise_after_s: float = 0.0  # start advertising this late (wall seconds)
    corrupt_every: int = 0  # flip one bit in every n-th sent notification (0 = never)
    duplicate_every: int = 0  # send every n-th notification twice (0 = never)
    cut_first_connections: int = 0  # drop this many connections right after they come up
    device_info_override: bytes | None = None  # serve these bytes as device info (bad firmware)
    seed: int = 0  # for the corrupted bit positions

    def __post_init__(self) -> None:
        if not protocol.MIN_ATT_MTU <= self.mtu_cap <= 517:
            raise ValueError(f"mtu_cap must be 23..517, got {self.mtu_cap}")
        counts = (self.corrupt_every, self.duplicate_every, self.cut_first_connections)
        if self.drop_every_stream_s < 0 or self.advertise_after_s < 0 or min(counts) < 0:
            raise ValueError(
                "drop_every_stream_s, advertise_after_s, corrupt_every, duplicate_every and "
                "cut_first_connections must be >= 0"
            )


@dataclass(frozen=True, slots=True)
class WearableStatistics:
    """Counters of one virtual wearable (notifications, not samples)."""

    sent: int
    lost_unconnected: int
    lost_unconnected_s: float  # stream time in those notifications
    lost_stalled: int
    corrupted: int
    duplicated: int  # extra copies sent (not counted in ``sent``)
    connections: int
    drops: int
    stalls: int
    stream_s: float
    finished: bool


class ChunkPayloads:
    """A ``PayloadSource`` over ``(emg µV (n_ch, n), accel g (3, m))`` float chunks.

    Quantises with the device info's µV/LSB and g/LSB (``codec.emg_to_counts``/
    ``accel_to_counts``: round to nearest, clipped to int16 as an ADC saturates) and encodes with
    ``codec.Encoder``. Accelerometer sample ``k`` belongs to EMG
    index ``k * accel_ratio`` (PROTOCOL.md §2.3); a chunk must hold the matching number of accel
    samples (``n / accel_ratio``). Each call emits as many EMG samples as fit ``max_size`` bytes,
    at most ``block_emg_samples * max_blocks_per_notification``.
    """

    def __init__(
        self,
        chunks: Iterable[tuple[FloatArray, FloatArray]],
        info: DeviceInfo,
        *,
        lead_off: Callable[[int], int] | None = None,
    ) -> None:
        self._chunks: Iterator[tuple[FloatArray, FloatArray]] = iter(chunks)
        self._info = info
        self._encoder = Encoder(info)
        self._lead_off = lead_off or (lambda _index: 0)
        self._emg = np.zeros((info.n_emg_channels, 0), dtype=np.int16)
        self._accel = np.zeros((3, 0), dtype=np.int16)
        self._index = 0  # absolute EMG index of self._emg[:, 0]
        self._accel_index = 0  # absolute accel index of self._accel[:, 0]
        self._last_accel = np.zeros((3, 1), dtype=np.int16)  # held when the data ends early
        self._exhausted = False
        self._fit: dict[tuple[int, int], int] = {}  # (index mod accel ratio, size) -> samples

    def _pull(self, need: int) -> None:
        while self._emg.shape[1] < need and not self._exhausted:
            try:
                emg_uv, accel_g = next(self._chunks)
            except StopIteration:
                self._exhausted = True
                return
            if emg_uv.ndim != 2 or emg_uv.shape[0] != self._info.n_emg_channels:
                raise ValueError(
                    f"emg chunk must be ({self._info.n_emg_channels}, n) µV, got {emg_uv.shape}"
                )
            if accel_g.ndim != 2 or accel_g.shape[0] != 3:
                raise ValueError(f"accel chunk must be (3, m) g, got {accel_g.shape}")
            self._emg = np.concatenate([self._emg, emg_to_counts(self._info, emg_uv)], 1)
            self._accel = np.concatenate([self._accel, accel_to_counts(self._info, accel_g)], 1)

    def __call__(self, max_size: int) -> Payload | None:
        info = self._info
        key = (self._index % info.accel_ratio, max_size)  # the answer depends on nothing else
        n = self._fit.get(key)
        if n is None:
            n = self._fit[key] = protocol.max_emg_samples(info, self._index, max_size)
        if n == 0:  # not even one sample fits: send the smallest frame, truncated by the link
            n = 1
        self._pull(n)
        n = min(n, self._emg.shape[1])
        if n == 0:
            return None
        ratio = info.accel_ratio
        first_accel = -(-self._index // ratio)  # §2.3: accel k belongs to EMG index k·ratio
        m = -(-(self._index + n) // ratio) - first_accel
        offset = first_accel - self._accel_index
        accel = self._accel[:, offset : offset + m]
        if accel.shape[1] < m:  # the last chunk lacks its accel tail: pad by holding the value
            if accel.shape[1]:
                self._last_accel = accel[:, -1:]
            accel = np.concatenate([accel, np.repeat(self._last_accel, m - accel.shape[1], 1)], 1)
        elif m:
            self._last_accel = accel[:, -1:]
        data = self._encoder.encode(
            self._emg[:, :n],
            accel,
            self._index % protocol.INDEX_MODULO,
            self._lead_off(self._index),
        )
        self._emg = self._emg[:, n:]
        self._index += n
        keep_from = -(-self._index // ratio)  # first accel sample still ahead
        self._accel = self._accel[:, max(0, keep_from - self._accel_index) :]
        self._accel_index = max(self._accel_index, keep_from)
        return data, n / info.emg_rate_hz


_EMG_UNITS = {"uv": 1.0, "µv": 1.0, "μv": 1.0, "mv": 1e3, "v": 1e6}  # to µV
_ACCEL_UNITS = {"g": 1.0, "m/s^2": 1 / 9.80665, "m/s2": 1 / 9.80665, "m/s²": 1 / 9.80665}  # to g
# 9.80665 m/s² = 1 g: standard gravity, CGPM 1901 (BIPM SI Brochure, 9th ed., §2.3.4 note).


@dataclass(frozen=True, slots=True)
class EdfNight:
    """An EDF/BDF recording as a chunk source for ``ChunkPayloads``; build with ``edf_chunks``."""

    path: str
    emg_rate_hz: float
    accel_rate_hz: float
    emg_labels: tuple[str, ...]
    duration_s: float
    chunks: Iterator[tuple[FloatArray, FloatArray]]


def edf_chunks(path: str, *, records_per_block: int = 10) -> EdfNight:
    """Play a recording through the virtual wearable: ``(emg µV (n_ch, n), accel g (3, m))``.

    EMG signals are those labelled ``EMG…`` (µV, mV or V; docs/contracts.md "EDF files"),
    accelerometer ``Accel X/Y/Z`` or, as export writes them, ``MISC Accel X L`` … (g or m/s²).
    EDF+D gaps are closed up: the wearable plays the samples back to back. Raises
    ``InputError`` (one line) when the file cannot be played.
    """
    from firmware_bridge.edf import EdfReader, accel_axis
    from firmware_bridge.errors import InputError

    reader = EdfReader(path)
    emg = [i for i, s in enumerate(reader.signals) if s.label.strip().upper().startswith("EMG")]
    axes: dict[str, int] = {}
    for i, s in enumerate(reader.signals):
        axis = accel_axis(s.label)
        if axis is not None:
            axes.setdefault(axis, i)
    accel = []
    for axis in "XYZ":
        if axis not in axes:
            raise InputError(f"{path}: no 'Accel {axis}' signal", path=str(path))
        accel.append(axes[axis])
    if not emg:
        raise InputError(f"{path}: no EMG signal (labels starting with 'EMG')", path=str(path))

    def factor(index: int, units: dict[str, float], what: str) -> float:
        unit = reader.signals[index].unit.strip()
        if unit.lower() not in units:
            raise InputError(
                f"{path}: {reader.signals[index].label!r}: unit {unit!r} is not an {what} unit",
                path=str(path),
            )
        return units[unit.lower()]

    groups = [emg, accel]
    scales = [[factor(i, _EMG_UNITS, "EMG") for i in emg]]
    scales.append([factor(i, _ACCEL_UNITS, "acceleration") for i in accel])
    for group in groups:
        if len({reader.signals[i].rate_hz for i in group}) != 1:
            raise InputError(f"{path}: signals of one kind need one sampling rate", path=str(path))

    def blocks() -> Iterator[tuple[FloatArray, FloatArray]]:
        for chunk in reader.iter_grouped(groups, records_per_block, scales=scales):
            yield chunk.arrays[0], chunk.arrays[1]

    return EdfNight(
        path=str(path),
        emg_rate_hz=reader.signals[emg[0]].rate_hz,
        accel_rate_hz=reader.signals[accel[0]].rate_hz,
        emg_labels=tuple(reader.signals[i].label.strip() for i in emg),
        duration_s=reader.duration_s,
        chunks=blocks(),
    )


class VirtualWearable:
    """A bumble peripheral with the crampwatch GATT service, Battery Service and fault knobs.

    ``async with VirtualWearable(link, info, payloads) as wearable:`` powers it on, advertises
    (after ``faults.advertise_after_s``) and starts its sensor clock; ``finished`` is set when the
    payload source ends. ``speed`` is stream seconds per wall second (``None`` = as fast as the
    link takes them, pausing while nobody streams). ``sleep``/``monotonic`` pace it. With
    ``hold_until_start`` the sensor clock starts at the first START write, so the first
    connection sees the stream from index 0; after that it runs whether or not anyone listens.
    """

    def __init__(
        self,
        link: LocalLink,
        info: DeviceInfo,
        payloads: PayloadSource,
        *,
        address: str = "F0:CA:1F:00:00:01",
        name: str = "crampwatch",
        speed: float | None = 1.0,
        faults: WearableFaults | None = None,
        battery_percent: int = 87,
        hold_until_start: bool = True,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be > 0 or None, got {speed}")
        self.info = info
        self.address = address
        self.name = name
        self.faults = faults or WearableFaults()
        self._payloads = payloads
        self._speed = speed
        self._hold_until_start = hold_until_start
        self._sleep = sleep
        self._monotonic = monotonic
        self._rng = random.Random(self.faults.seed)
        self._link = link
        self._controller = Controller(f"wearable-{address}", link=link)
        use_data_length_extension(self._controller)
        self.device = Device(
            name=name,
            address=hci.Address(address),
            host=Host(self._controller, AsyncPipeSink(self._controller)),
        )
        self.device.gatt_server.max_mtu = self.faults.mtu_cap
        self._data_char = gatt.Characteristic(
            protocol.DATA_CHAR_UUID,
            gatt.Characteristic.Properties.NOTIFY,
            gatt.Characteristic.READABLE,
            b"",
        )
        control: gatt.Characteristic[bytes] = gatt.Characteristic(
            protocol.CONTROL_CHAR_UUID,
            gatt.Characteristic.Properties.WRITE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue[bytes](write=self._on_control),
        )
        device_info = gatt.Characteristic(
            protocol.DEVICE_INFO_CHAR_UUID,
            gatt.Characteristic.Properties.READ,
            gatt.Characteristic.READABLE,
            info.to_bytes()
            if self.faults.device_info_override is None
            else self.faults.device_info_override,
        )
        self._battery_char = gatt.Characteristic(
            protocol.BATTERY_LEVEL_CHAR_UUID,
            gatt.Characteristic.Properties.READ | gatt.Characteristic.Properties.NOTIFY,
            gatt.Characteristic.READABLE,
            bytes([battery_percent]),
        )
        self.device.add_service(
            gatt.Service(protocol.SERVICE_UUID, [self._data_char, control, device_info])
        )
        self.device.add_service(gatt.Service(protocol.BATTERY_SERVICE_UUID, [self._battery_char]))
        self.device.on(self.device.EVENT_CONNECTION, self._on_connection)
        self._connection: Connection | None = None
        self._started = False
        self._stalled = False
        self._streaming = asyncio.Event()
        self._stall_times = sorted(self.faults.stall_at_stream_s)
        self._tasks: list[asyncio.Task[object]] = []
        self.finished = asyncio.Event()
        self._connected_stream_s = 0.0  # streamed time since this connection's START
        self._sent = self._lost_unconnected = self._lost_stalled = self._corrupted = 0
        self._duplicated = 0
        self._connections = self._drops = self._stalls = 0
        self._stream_s = self._lost_unconnected_s = 0.0

    # -- lifecycle ---------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Power on, start the sensor clock and (maybe late) advertising."""
        await self.device.power_on()
        self._tasks.append(asyncio.create_task(self._advertise_later(), name="wearable-adv"))
        self._tasks.append(asyncio.create_task(self._run(), name="wearable-stream"))

    async def stop(self) -> None:
        """Stop streaming, drop the link, stop advertising, leave the LocalLink."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.cut_link()
        if self.device.is_advertising:
            await self.device.stop_advertising()
        await self.device.power_off()
        if self._controller in self._link.controllers:
            self._link.remove_controller(self._controller)

    async def cut_link(self) -> bool:
        """Drop the current connection from the wearable's side; False if none was up."""
        connection = self._connection
        if connection is None:
            return False
        await self._cut(connection)
        return True

    async def _cut(self, connection: Connection) -> None:
        try:
            await connection.disconnect()
        except core.BaseBumbleError as exc:  # already going down
            logger.debug("wearable %s: disconnect: %s", self.address, exc)

    async def set_battery(self, percent: int) -> None:
        """Change the battery level and notify a subscriber (0..100 %)."""
        self._battery_char.value = bytes([max(0, min(100, percent))])
        if self._connection is not None:
            await self.device.notify_subscribers(self._battery_char)

    def statistics(self) -> WearableStatistics:
        return WearableStatistics(
            sent=self._sent,
            lost_unconnected=self._lost_unconnected,
            lost_unconnected_s=self._lost_unconnected_s,
            lost_stalled=self._lost_stalled,
            corrupted=self._corrupted,
            duplicated=self._duplicated,
            connections=self._connections,
            drops=self._drops,
            stalls=self._stalls,
            stream_s=self._stream_s,
            finished=self.finished.is_set(),
        )

    # -- GATT callbacks ----------------------------------------------------------------------
    def _on_connection(self, connection: Connection) -> None:
        self._connection = connection
        self._connections += 1
        connection.on(
            connection.EVENT_DISCONNECTION, functools.partial(self._on_disconnection, connection)
        )
        if self._connections <= self.faults.cut_first_connections:
            # Cut during the central's setup (after the MTU exchange, while it discovers): a cut
            # before the first ATT PDU confuses bumble's controllers, a real radio would not care.
            def cut_now() -> None:
                self._tasks.append(asyncio.get_running_loop().create_task(self._cut(connection)))

            connection.once(connection.EVENT_CONNECTION_ATT_MTU_UPDATE, cut_now)

    def _on_disconnection(self, connection: Connection, reason: int) -> None:
        logger.debug("wearable %s: link down (0x%02X)", self.address, reason)
        if connection is not self._connection:
            return  # an older link going down late; the current one is unaffected
        self._connection = None
        self._started = False
        self._stalled = False  # a stalled firmware recovers when the central reconnects
        self._streaming.clear()

    def _on_control(self, connection: Connection, value: bytes) -> None:
        command = protocol.parse_control(value)
        if command is None:
            raise att.ATT_Error(protocol.ATT_ERROR_UNKNOWN_OPCODE)
        if command.opcode is protocol.Opcode.START:
            self._started = True
            self._connected_stream_s = 0.0
            self._streaming.set()
        elif command.opcode is protocol.Opcode.STOP:
            self._started = False
            self._streaming.clear()
        else:  # SET_RATES / SET_BATCH: the virtual wearable keeps its configured stream
            raise att.ATT_Error(protocol.ATT_ERROR_BUSY)

    # -- tasks -------------------------------------------------------------------------------
    async def _advertise_later(self) -> None:
        if self.faults.advertise_after_s > 0:
            await self._sleep(self.faults.advertise_after_s)
        self.device.advertising_data = bytes(
            core.AdvertisingData(
                [
                    (
                        core.AdvertisingData.FLAGS,
                        bytes([0x06]),
                    ),  # LE General Discoverable, no BR/EDR
                    (core.AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
                ]
            )
        )
        await self.device.start_advertising(
            auto_restart=True, advertising_interval_min=ADVERTISING_INTERVAL_MS
        )

    def _payload_limit(self) -> int:
        connection = self._connection
        # Size batches to the link only while streaming; samples taken while nobody listens are
        # lost anyway, in full batches (and a 20-byte pre-exchange MTU would cost 25× the work).
        if self.faults.size_to_mtu and connection is not None and self._started:
            return protocol.max_payload_size(connection.att_mtu)
        return MAX_VALUE_SIZE

    async def _run(self) -> None:
        if self._hold_until_start:  # the sensor starts sampling at the first START (§4)
            await self._streaming.wait()
        t0 = self._monotonic()
        while True:
            if self._speed is None and not self._streaming.is_set():
                await self._streaming.wait()
            payload = self._payloads(self._payload_limit())
            if payload is None:
                break
            data, duration_s = payload
            if self._speed is not None:
                delay = t0 + self._stream_s / self._speed - self._monotonic()
                if delay > 0:
                    await self._sleep(delay)
            await asyncio.sleep(0)  # let the link and the central run even at speed=None
            start_s, self._stream_s = self._stream_s, self._stream_s + duration_s
            await self._emit(data, start_s, duration_s)
        self.finished.set()

    async def _emit(self, data: bytes, start_s: float, duration_s: float) -> None:
        connection = self._connection
        if connection is None or not self._started:
            self._lost_unconnected += 1
            self._lost_unconnected_s += duration_s
            return
        if self._stall_times and start_s >= self._stall_times[0]:
            self._stall_times.pop(0)
            self._stalled = True
            self._stalls += 1
            logger.debug("wearable %s: stalling at %.2f s", self.address, self._stream_s)
        if self._stalled:
            self._lost_stalled += 1
            return
        self._sent += 1
        if self.faults.corrupt_every and self._sent % self.faults.corrupt_every == 0:
            buffer = bytearray(data)
            position = self._rng.randrange(len(buffer))
            buffer[position] ^= 1 << self._rng.randrange(8)
            data = bytes(buffer)
            self._corrupted += 1
        await self.device.notify_subscriber(connection, self._data_char, data)
        if self.faults.duplicate_every and self._sent % self.faults.duplicate_every == 0:
            self._duplicated += 1
            await self.device.notify_subscriber(connection, self._data_char, data)
        self._connected_stream_s += duration_s
        faults = self.faults
        if (
            faults.drop_every_stream_s > 0
            and self._connected_stream_s >= faults.drop_every_stream_s - 1e-9  # float sums
            and self._drops < faults.max_drops
        ):
            self._drops += 1
            self._connected_stream_s = 0.0
            await self.cut_link()
