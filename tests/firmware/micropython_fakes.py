"""Small fakes of MicroPython's hardware modules (``machine``, ``bluetooth``, ``aioble``) and of
the MicroPython-only ``time`` functions, so ``firmware/sampler.py`` and ``firmware/service.py``
run on CPython. Only that boundary is fake: the firmware's own modules run unchanged.

The fake SPI device answers like an ADS1292R in RDATAC mode (a 9-byte frame per read, register
writes recorded); the fake I²C device is a LIS3DH (WHO_AM_I 0x33, X/Y/Z registers); the fake
PCNT ``Counter`` is advanced by the test, which also calls the data-ready handler. No tests here.
"""

from __future__ import annotations

import asyncio
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest


class Pin:
    IN, OUT, IRQ_FALLING = 1, 2, 4

    def __init__(self, number: int, mode: int = 0) -> None:
        self.number = number
        self.level = 0
        self.handler: Callable[[Pin], None] | None = None

    def value(self, level: int | None = None) -> int:
        if level is not None:
            self.level = level
        return self.level

    def irq(self, trigger: int = 0, handler: Callable[[Pin], None] | None = None) -> None:
        self.handler = handler


@dataclass
class Ads1292rChip:
    """What the fake SPI bus is wired to: registers and the next data frame."""

    registers: dict[int, int] = field(default_factory=dict)
    frame: bytes = bytes(9)
    commands: list[int] = field(default_factory=list)


CHIP = Ads1292rChip()


class SPI:
    def __init__(self, bus: int, **_kwargs: object) -> None:
        self.bus = bus

    def write(self, data: bytes | bytearray) -> None:
        if len(data) == 3 and data[0] & 0xE0 == 0x40:  # WREG
            CHIP.registers[data[0] & 0x1F] = data[2]
        elif len(data) == 1:
            CHIP.commands.append(data[0])

    def readinto(self, buf: bytearray) -> None:
        buf[:] = CHIP.frame

    def read(self, n: int) -> bytes:
        return bytes(n)


class I2C:
    accel = (0, 0, 8000)  # counts at ±4 g high resolution: 1 g on Z

    def __init__(self, bus: int, **_kwargs: object) -> None:
        self.writes: list[tuple[int, bytes]] = []

    def readfrom_mem(self, address: int, register: int, n: int) -> bytes:
        return b"\x33" if register == 0x0F else bytes(n)

    def readfrom_mem_into(self, address: int, register: int, buf: bytearray) -> None:
        buf[:] = b"".join(v.to_bytes(2, "little", signed=True) for v in I2C.accel)

    def writeto_mem(self, address: int, register: int, data: bytes) -> None:
        self.writes.append((register, bytes(data)))


class ADC:
    ATTN_11DB = 3
    pin_uv = 1_900_000  # 3.8 V cell behind the 2:1 divider

    def __init__(self, pin: Pin, atten: int = 0) -> None:
        self.pin = pin

    def read_uv(self) -> int:
        return ADC.pin_uv


class Counter:
    FALLING = 1
    units: ClassVar[dict[int, Counter]] = {}

    def __init__(self, unit: int, src: Pin, edge: int = 0) -> None:
        self.count = 0
        Counter.units[unit] = self

    def value(self) -> int:
        return self.count


class UUID:
    def __init__(self, value: int | str) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UUID) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)


class Service:
    def __init__(self, uuid: UUID) -> None:
        self.uuid = uuid
        self.characteristics: list[Characteristic] = []


class Characteristic:
    def __init__(self, service: Service, uuid: UUID, **flags: bool) -> None:
        service.characteristics.append(self)
        self.uuid = uuid
        self.flags = flags
        self.value = b""
        self.notified: list[bytes] = []
        self.writes: asyncio.Queue[tuple[object, bytes]] = asyncio.Queue()
        self.refuse_next = 0  # notify raises OSError this many times (stack buffers full)

    def write(self, data: bytes) -> None:
        self.value = bytes(data)

    def notify(self, connection: object, data: bytes | memoryview | None = None) -> None:
        if self.refuse_next:
            self.refuse_next -= 1
            raise OSError(12, "ENOMEM")  # what NimBLE's gatts_notify raises when full
        self.notified.append(bytes(data if data is not None else self.value))

    async def written(self) -> tuple[object, bytes]:
        return await self.writes.get()


class Connection:
    def __init__(self, mtu: int) -> None:
        self.mtu = mtu
        self.lost = asyncio.Event()

    async def disconnected(self, timeout_ms: int | None = None) -> None:
        await self.lost.wait()


@dataclass
class Air:
    """The aioble side the test drives: connections the next ``advertise`` returns."""

    services: tuple[Service, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    incoming: asyncio.Queue[Connection] | None = None
    adverts: list[dict[str, Any]] = field(default_factory=list)


AIR = Air()
TICKS_MS = [0]  # MicroPython's millisecond tick, moved by the test


def _register_services(*services: Service) -> None:
    AIR.services = services


def _config(**kwargs: Any) -> None:
    AIR.config.update(kwargs)


async def _advertise(interval_us: int, **kwargs: Any) -> Connection:
    AIR.adverts.append({"interval_us": interval_us, **kwargs})
    assert AIR.incoming is not None
    return await AIR.incoming.get()


def install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put the fakes where MicroPython's modules would be, and fresh firmware modules."""
    global CHIP, AIR
    CHIP = Ads1292rChip()
    AIR = Air(incoming=asyncio.Queue())
    Counter.units = {}
    machine = types.ModuleType("machine")
    for cls in (Pin, SPI, I2C, ADC, Counter):
        setattr(machine, cls.__name__, cls)
    bluetooth = types.ModuleType("bluetooth")
    bluetooth.UUID = UUID  # type: ignore[attr-defined]
    aioble = types.ModuleType("aioble")
    aioble.Service = Service  # type: ignore[attr-defined]
    aioble.Characteristic = Characteristic  # type: ignore[attr-defined]
    aioble.register_services = _register_services  # type: ignore[attr-defined]
    aioble.config = _config  # type: ignore[attr-defined]
    aioble.advertise = _advertise  # type: ignore[attr-defined]
    for name, module in (("machine", machine), ("bluetooth", bluetooth), ("aioble", aioble)):
        monkeypatch.setitem(sys.modules, name, module)
    # MicroPython's time functions (docs.micropython.org, "time"): milliseconds, wrapping diff.
    TICKS_MS[0] = 0
    monkeypatch.setattr(time, "ticks_ms", lambda: TICKS_MS[0], raising=False)
    monkeypatch.setattr(time, "ticks_diff", lambda a, b: a - b, raising=False)
    monkeypatch.setattr(time, "sleep_ms", lambda _ms: None, raising=False)
    monkeypatch.setattr(time, "sleep_us", lambda _us: None, raising=False)
    for name in ("firmware.ads1292r", "firmware.lis3dh", "firmware.sampler", "firmware.service"):
        monkeypatch.delitem(sys.modules, name, raising=False)


def chip() -> Ads1292rChip:
    return CHIP


def air() -> Air:
    return AIR
