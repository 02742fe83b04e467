"""What every packet source yields, bleak-free: the BLE client, the virtual wearable and a
recorded session all speak these types.

* :class:`RawPacket`: one notification's bytes as received, with its receive times;
* :class:`LinkEvent`: something the link said (connected, device_info, battery, silence, …);
* :class:`PacketSource`: the protocol the live daemon's worker consumes
  (``async for packet in source.packets()``) — :class:`~firmware_bridge.ble_client.BleClient`
  and :class:`~firmware_bridge.recording.RecordingSource` implement it.

No I/O and no third-party import here, so the offline tools (and tests) can name these types
without importing bleak.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from firmware_bridge.protocol import DeviceInfo


@dataclass(frozen=True, slots=True)
class RawPacket:
    """One notification as received: ``t_mono`` monotonic receive time (s), ``data`` the value,
    ``t_wall`` the Unix receive time (s) where known (a recording has it; live it is taken by
    the consumer)."""

    t_mono: float
    data: bytes
    t_wall: float | None = None
    offset: int = field(default=0, compare=False)  # byte offset in a session file


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """A link event for logs and recordings: ``kind`` is one of ``state``, ``connected``,
    ``disconnected``, ``silence``, ``device_info``, ``battery``, ``rssi``, ``power_cycle``,
    ``unsupported_device`` (fields ``reason``, ``address``, the announced rates, ``firmware``),
    ``failed`` (and what the daemon adds: ``stream_origin``); ``fields`` are JSON-able values
    (``bytes`` allowed: recordings store them as hex). ``t_wall`` and ``offset`` (byte offset in
    a session file) are known for recorded events only."""

    t_mono: float
    kind: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    t_wall: float | None = None
    offset: int = field(default=0, compare=False)


class PacketSource(Protocol):
    """What the daemon's worker and the recorder read from: the BLE client, a virtual wearable,
    a recorded session. ``device_info`` is None until the wearable said what it is."""

    @property
    def device_info(self) -> DeviceInfo | None: ...

    def packets(self) -> AsyncIterator[RawPacket]: ...
