"""End to end without a board: the firmware's notifications over the virtual air into ``replay``.

A short simulated night (``crampwatch simulate``) is played twice:

- directly: ``crampwatch replay NIGHT.edf``;
- through the firmware: the EDF's values, counted as the wearable's ADC would, go through the
  firmware's own assembler, ring and packer (``FirmwarePayloads``); the virtual wearable (bumble)
  sends exactly those bytes, the production ``BleClient`` receives them over bleak, the
  production capture recorder writes a session, and ``crampwatch replay SESSION`` reads it.

Both must give the same events. Commands run as subprocesses (the CLI is the contract).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bedside.live.capture import capture, virtual_finished
from firmware_bridge.ble_client import BleBackend, BleClient
from firmware_bridge.bumble_backend import BumbleCentral, new_link
from firmware_bridge.codec import Decoder, Frame
from firmware_bridge.edf import EdfReader
from firmware_bridge.link_settings import WearableSettings
from firmware_bridge.protocol import DeviceInfo, Leg, Site
from firmware_bridge.recording import Notification, read_session
from firmware_bridge.virtual_wearable import VirtualWearable, edf_chunks
from tests.firmware.firmware_stream import FirmwarePayloads

CRAMPWATCH = str(Path(sys.executable).with_name("crampwatch"))
NIGHT_HOURS = 0.05  # 3 minutes: seconds of test time, and the dense profile has a cramp in it
SEED = 3


def crampwatch(*argv: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([CRAMPWATCH, *argv], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result


def half_step(reader: EdfReader, label: str) -> float:
    """Half the EDF's step of signal ``label``, as float32 (the wire's type, PROTOCOL.md §3).

    ``crampwatch simulate`` writes ±range over digital −32768…32767, so every stored value sits
    half a step off zero: (d + ½)·step. Counts of half a step hold those values exactly (2d + 1);
    counts of a whole step would round each value by half a step.
    """
    s = reader.signals[reader.signal_index(label)]
    step = (s.physical_max - s.physical_min) / (s.digital_max - s.digital_min)
    return float(np.float32(step / 2))


def edf_device_info(night: Path) -> DeviceInfo:
    """A wearable whose ADCs count in half the EDF's steps, so it carries the file's values."""
    reader = EdfReader(night)
    emg = [s for s in reader.signals if s.label.upper().startswith("EMG")]
    assert {s.unit.strip() for s in emg} <= {"uV", "µV"}  # simulate writes µV
    accel_hz = reader.signals[reader.signal_index("Accel X")].rate_hz
    return DeviceInfo(
        emg_rate_hz=round(emg[0].rate_hz),
        accel_rate_hz=round(accel_hz),
        emg_sites=(Site.GASTROCNEMIUS_MEDIAL,) * len(emg),
        emg_uv_per_lsb=half_step(reader, emg[0].label),
        accel_g_per_lsb=half_step(reader, "Accel X"),
        leg=Leg.LEFT,
        firmware_version=(0, 1, 0),
    )


async def capture_firmware_night(night: Path, info: DeviceInfo, out: Path) -> FirmwarePayloads:
    payloads = FirmwarePayloads(edf_chunks(str(night)).chunks, info)
    link = new_link()
    central = await BumbleCentral.create(link)
    wearable = VirtualWearable(link, info, payloads, speed=None, name="crampwatch-L")
    await wearable.start()
    settings = dataclasses.replace(
        WearableSettings(), address=wearable.address, name=wearable.name
    )
    backend = BleBackend(central.scanner_backend, central.client_backend)

    def make(on_event: Any) -> BleClient:
        return BleClient(settings, backend=backend, label="firmware", on_event=on_event)

    try:
        await capture(
            make,
            out,
            stop=asyncio.Event(),
            finished=virtual_finished(lambda: wearable.statistics().sent, wearable.finished),
        )
    finally:
        await wearable.stop()
    return payloads


def events(path: Path) -> list[dict[str, Any]]:
    """Events without the wall-clock fields (a session starts at capture time, an EDF at its
    recorded start): what the detector decided, and when in stream time."""
    out = []
    for line in path.read_text().splitlines():
        event = json.loads(line)
        for key in ("time", "event_id", "session_id", "source"):
            event.pop(key, None)
        out.append(event)
    return out


@pytest.mark.slow
def test_firmware_stream_over_ble_replays_to_the_same_events(tmp_path: Path) -> None:
    night = tmp_path / "night.edf"
    crampwatch("simulate", "--hours", str(NIGHT_HOURS), "--seed", str(SEED), "--profile",
               "dense", "--emg-rate", "1000", "--accel-rate", "50", "-o", str(night))
    info = edf_device_info(night)
    session = tmp_path / "firmware.cwsession"
    payloads = asyncio.run(capture_firmware_night(night, info, session))
    assert payloads.stream.ring.dropped_blocks == 0

    # The session holds the firmware's bytes, decoded without a bad frame or a gap.
    decoder = Decoder(info)
    with read_session(session) as reader:
        for record in reader:
            if isinstance(record, Notification):
                decoder.feed(record.data)
        assert reader.report().clean_end and reader.report().corrupt_records == 0
    frames = [e for e in decoder.events() if isinstance(e, Frame)]
    stats = decoder.statistics()
    assert stats.bad_frames == 0 and stats.gaps == 0
    assert stats.emg_samples == round(NIGHT_HOURS * 3600 * info.emg_rate_hz)
    assert frames and frames[0].first_emg_index == 0

    direct, via = tmp_path / "direct.jsonl", tmp_path / "firmware.jsonl"
    crampwatch("replay", str(night), "--events", str(direct))
    crampwatch("replay", str(session), "--events", str(via))
    expected = events(direct)
    assert any(e["event"] == "cramp_started" for e in expected)  # the comparison is not empty
    assert events(via) == expected
