"""``ble_client.scan`` over the bumble virtual air, and ``crampwatch scan`` on this machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.ble_client import FoundWearable, scan
from firmware_bridge.virtual_wearable import ChunkPayloads, VirtualWearable
from tests.firmware_bridge.test_ble_support import INFO, chunks, make_air

CRAMPWATCH = str(Path(sys.executable).with_name("crampwatch"))


async def test_scan_lists_crampwatch_wearables_only(rng: np.random.Generator) -> None:
    air = await make_air()
    devices = [
        VirtualWearable(
            air.link, INFO, ChunkPayloads(chunks(rng, 1.0), INFO), address=address, name=name
        )
        for address, name in (
            ("F0:CA:1F:00:00:01", "crampwatch-L"),
            ("F0:CA:1F:00:00:02", "crampwatch-R"),
            ("F0:CA:1F:00:00:03", "kitchen-thermometer"),
        )
    ]
    for device in devices:
        await device.start()
    try:
        found = await scan(0.3, backend=air.backend)
    finally:
        for device in devices:
            await device.stop()
    assert sorted(w.name for w in found) == ["crampwatch-L", "crampwatch-R"]
    assert {w.address for w in found} == {"F0:CA:1F:00:00:01", "F0:CA:1F:00:00:02"}
    assert all(isinstance(w, FoundWearable) and w.rssi_dbm < 0 for w in found)
    assert [w.rssi_dbm for w in found] == sorted((w.rssi_dbm for w in found), reverse=True)


async def test_scan_of_an_empty_air_finds_nothing() -> None:
    air = await make_air()
    assert await scan(0.1, backend=air.backend) == []
    with pytest.raises(ValueError, match="duration_s"):
        await scan(0.0, backend=air.backend)


def test_cli_scan_answers_in_one_line_without_a_traceback() -> None:
    # This machine may have no Bluetooth adapter or BlueZ: then one line and exit 1 (LinkError).
    result = subprocess.run(
        [CRAMPWATCH, "scan", "--duration", "0.2"], capture_output=True, text=True, check=False
    )
    assert "Traceback" not in result.stderr
    if result.returncode == 1:
        assert result.stderr.startswith("crampwatch: cannot scan for wearables")
        assert result.stderr.count("\n") == 1
    else:
        assert result.returncode == 0, result.stderr
    bad = subprocess.run(
        [CRAMPWATCH, "scan", "--duration", "-1"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2 and "--duration" in bad.stderr
