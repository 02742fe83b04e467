"""Shared pieces of the BLE tests: a virtual air (LocalLink + bumble central), device info, chunks.

No tests here; ``test_ble_backend.py``, ``test_ble_client.py`` and ``test_virtual_wearable.py``
import from it. Everything is real: bumble host stacks on bumble software controllers, bleak's
public API, bleak-retry-connector, our codec. Only the radio, BlueZ and the kernel are absent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from bumble.link import LocalLink

from firmware_bridge.ble_client import BleBackend
from firmware_bridge.bumble_backend import BumbleCentral, new_link
from firmware_bridge.link_settings import WearableSettings
from firmware_bridge.protocol import DeviceInfo, Leg, Site

FloatArray = npt.NDArray[np.float64]

# Two channels at 1 kHz, accel at 50 Hz; 0.25 µV and 2^-12 g per LSB are exact float32 values.
INFO = DeviceInfo(
    emg_rate_hz=1000,
    accel_rate_hz=50,
    emg_sites=(Site.GASTROCNEMIUS_MEDIAL, Site.SOLEUS),
    emg_uv_per_lsb=0.25,
    accel_g_per_lsb=2.0**-12,
    leg=Leg.LEFT,
    firmware_version=(1, 2, 3),
)
SAMPLES_PER_NOTIFICATION = 50  # block 10 × 5 blocks fit MTU 517: 12 + 2·2·50 + 6·1 = 218 B


@dataclass
class Air:
    """A LocalLink with the Pi's central on it, and bleak backends bound to that central."""

    link: LocalLink
    central: BumbleCentral
    backend: BleBackend


async def make_air() -> Air:
    link = new_link()
    central = await BumbleCentral.create(link)
    return Air(link, central, BleBackend(central.scanner_backend, central.client_backend))


def chunks(
    rng: np.random.Generator, seconds: float, chunk_s: float = 1.0, info: DeviceInfo = INFO
) -> list[tuple[FloatArray, FloatArray]]:
    """Random EMG (n_ch, n) µV (σ 30 µV) and accel (3, m) g (gravity on z) in ``chunk_s`` chunks."""
    out: list[tuple[FloatArray, FloatArray]] = []
    chunk_s = min(chunk_s, seconds)
    n_chunks = round(seconds / chunk_s)
    n, m = round(chunk_s * info.emg_rate_hz), round(chunk_s * info.accel_rate_hz)
    for _ in range(n_chunks):
        emg = rng.normal(0.0, 30.0, (info.n_emg_channels, n))
        accel = rng.normal(0.0, 0.02, (3, m)) + np.array([[0.0], [0.0], [1.0]])
        out.append((emg, accel))
    return out


def fast_settings(**overrides: object) -> WearableSettings:
    """Short timeouts for tests (the config file refuses some of these; tests build directly)."""
    values: dict[str, object] = {
        "scan_timeout_s": 2.0,
        "silence_timeout_s": 0.5,
        "disconnect_timeout_s": 1.0,
        "backoff_base_s": 0.01,
        "backoff_cap_s": 0.05,
        "battery_poll_s": 60.0,
    }
    values.update(overrides)
    return WearableSettings(**values)  # type: ignore[arg-type]


class RecordingSleep:
    """Injected ``sleep`` for backoff: records the delays, yields once, never waits."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay_s: float) -> None:
        self.delays.append(delay_s)
        await asyncio.sleep(0)


def open_fds() -> int:
    """Open file descriptors of this process (Linux)."""
    import os

    return len(os.listdir("/proc/self/fd"))


def chunk_iter(
    items: list[tuple[FloatArray, FloatArray]],
) -> Iterator[tuple[FloatArray, FloatArray]]:
    yield from items
