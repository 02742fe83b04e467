"""An unsupported wearable is refused at connect time, never streamed deaf (issue #16 item 2).

The real ``BleClient`` over bumble's virtual controller against the virtual wearable serving
device info with an EMG rate the protocol allows but crampwatch cannot use.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from firmware_bridge.ble_client import BleClient, LinkState
from firmware_bridge.errors import LinkError
from firmware_bridge.protocol import DeviceInfo, Site
from firmware_bridge.source import LinkEvent
from firmware_bridge.virtual_wearable import ChunkPayloads, VirtualWearable
from tests.firmware_bridge.test_ble_support import RecordingSleep, chunks, fast_settings, make_air

UNSUPPORTED = DeviceInfo(emg_rate_hz=30_000, accel_rate_hz=50,
                         emg_sites=(Site.GASTROCNEMIUS_MEDIAL,), emg_uv_per_lsb=0.25,
                         accel_g_per_lsb=2.0**-12)


async def test_an_unsupported_device_is_refused_and_retried_without_streaming(
    rng: np.random.Generator, caplog: pytest.LogCaptureFixture
) -> None:
    air = await make_air()
    wearable = VirtualWearable(air.link, UNSUPPORTED,
                               ChunkPayloads(chunks(rng, 0.2, info=UNSUPPORTED), UNSUPPORTED))
    cycles: list[float] = []

    async def power_cycle() -> None:
        cycles.append(time.monotonic())

    sleep = RecordingSleep()
    events: list[LinkEvent] = []
    settings = fast_settings(power_cycle_after_failures=2, exit_after_failures=3)
    async with (
        wearable,
        BleClient(settings, backend=air.backend, sleep=sleep, power_cycle=power_cycle,
                  on_event=events.append) as link,
    ):
        with pytest.raises(LinkError, match="no data after 3 connect cycles"):
            async for _ in link.packets():
                pass
        stats = link.statistics()
    refusals = [e for e in events if e.kind == "unsupported_device"]
    assert len(refusals) == 3 == stats.unsupported_devices
    assert refusals[0].fields["reason"] == (
        "emg_rate_hz 30000 Hz is outside the supported range 500-4000 Hz")
    assert refusals[0].fields["emg_rate_hz"] == 30_000
    assert "connected" not in [e.kind for e in events]  # never announced as a working link
    assert wearable.statistics().sent == 0 and stats.packets == 0  # START was never sent
    assert stats.device_info is None and stats.state is LinkState.FAILED
    assert len(sleep.delays) == 2  # backed off between the attempts
    assert cycles == []  # the adapter is fine: no power-cycle for a device we cannot use
    lines = [r.getMessage() for r in caplog.records if "unsupported device" in r.getMessage()]
    assert len(lines) == 3 and "30000 Hz" in lines[0]
