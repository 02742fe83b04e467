"""The daemon end to end on a virtual night: bleak (over bumble) → codec → detector → sinks.

No mocks: the production ``BleClient`` talks to the virtual wearable through bleak's
``backend=`` hook, the real codec decodes, the real detector detects, prompts are rendered by
espeak-ng and written as WAVs, the recording is a real session file.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bedside.config.daemon import DaemonSettings
from bedside.config.mqtt import MqttSettings
from bedside.config.prompt import PromptSettings
from bedside.config.settings import Settings
from bedside.live.daemon import Daemon, WearableSpec
from bedside.live.mqtt import Command
from bedside.live.service import run_night
from bedside.live.virtual import device_info_for, start_virtual, start_virtual_edf
from bedside.stream.edf_feed import replay_file
from bedside.stream.records import EventRecord, event_record
from detector.floor import FLOOR_MIN_S
from detector.pipeline import Pipeline
from firmware_bridge.codec import Decoder, Frame
from firmware_bridge.edf import EdfSignalSpec, EdfWriter
from firmware_bridge.protocol import DeviceInfo
from firmware_bridge.recording import Notification, read_session
from firmware_bridge.simulation import NightPlan, plan_night, render_chunks, write_night
from tests.broker import Broker, Subscriber
from tests.conftest import as_json

KEYS = ("event", "t_onset", "t_detect", "t_end", "duration_s")


def direct_events(plan: NightPlan, info: DeviceInfo) -> list[dict[str, Any]]:
    """The same night straight into the detector, quantised as the wearable quantises it."""
    pipeline = Pipeline(
        Settings().detector,
        emg_rate_hz=plan.emg_rate_hz,
        accel_rate_hz=plan.accel_rate_hz,
        n_emg_channels=len(plan.emg_labels),
        emg_labels=tuple(
            {"EMG calf lateral": "EMG calf lateral", "EMG shin": "EMG shin"}.get(
                label, "EMG calf medial"
            )
            for label in plan.emg_labels
        ),
    )
    found = []
    for emg, accel in render_chunks(plan, chunk_s=60.0):
        emg_q = np.clip(np.rint(emg / info.emg_uv_per_lsb), -32768, 32767) * info.emg_uv_per_lsb
        acc_q = np.clip(np.rint(accel / info.accel_g_per_lsb), -32768, 32767) * info.accel_g_per_lsb
        found += pipeline.process(emg_q, acc_q)
    found += pipeline.finish()
    start = plan.start
    return as_json(
        event_record(e, session_id="direct", leg="left", session_start=start)
        for e in found
        if e.kind.value != "cramp_update"
    )


def essentials(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [tuple(e.get(k) for k in KEYS) for e in events if e["event"] != "cramp_update"]


async def test_virtual_night_over_ble_equals_direct_replay(tmp_path: Path) -> None:
    # no bedtime reminder: run after its time of day, it would speak before the cramp's opening
    settings = Settings(daemon=DaemonSettings(state_dir=str(tmp_path)),
                        prompt=PromptSettings(reminder_time=""))
    virtual = await start_virtual(seed=0, hours=0.1, profile="dense", speed=None)
    result = await run_night(
        settings, state_dir=tmp_path, virtual=virtual, wav_dir=tmp_path / "prompts"
    )
    live = [e for e in as_json(result.summary.events) if e["event"] != "cramp_update"]
    direct = direct_events(virtual.plan, device_info_for(virtual.plan))

    assert any(e["event"] == "cramp_started" for e in live), "the simulated cramp was missed"
    assert essentials(live) == essentials(direct)
    assert not result.link_failed

    # Nothing lost on the way: every notification the wearable sent was received, recorded and
    # decoded into a frame, with no gap.
    sent = virtual.wearable.statistics().sent
    worker = result.daemon.workers[0].statistics()
    assert worker.packets == sent and worker.frames == sent
    assert worker.gaps == 0 and worker.bad_frames == 0
    assert worker.stream_s == virtual.plan.duration_s

    # The event history holds every event, in order, durably written.
    history = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert history == live

    # The session recording replays to the same frames.
    (session,) = (tmp_path / "sessions").iterdir()
    assert oct(session.stat().st_mode & 0o777) == "0o600"
    decoder = Decoder(device_info_for(virtual.plan))
    with read_session(session) as reader:
        for record in reader:
            if isinstance(record, Notification):
                decoder.feed(record.data)
    frames = [e for e in decoder.events() if isinstance(e, Frame)]
    assert len(frames) == sent

    # The cramp was answered with spoken prompts (written as WAVs: no sound card in tests).
    wavs = sorted((tmp_path / "prompts").glob("*.wav"))
    assert wavs and "opening" in wavs[0].name
    # … and the prompt heard the detector say the level fell (before its cramp_ended)
    hints = [e for e in as_json(result.summary.events) if e.get("easing") is True]
    assert hints
    assert result.daemon.prompt is not None
    assert result.daemon.prompt.statistics().easing_pauses >= 1


async def test_demo_settings_survive_a_night_without_a_cramp(tmp_path: Path) -> None:
    """A quiet stretch: no events, no prompt, still a clean end and a readable recording."""
    settings = dataclasses.replace(Settings(), daemon=DaemonSettings(state_dir=str(tmp_path)))
    virtual = await start_virtual(seed=5, hours=0.03, profile="quiet", speed=None)
    result = await run_night(settings, state_dir=tmp_path, virtual=virtual, with_prompt=False)
    assert result.summary.cramps == len(virtual.truth["cramps"]) == 0
    assert [e for e in as_json(result.summary.events) if e["event"] == "cramp_started"] == []
    assert result.daemon.workers[0].statistics().frames == virtual.wearable.statistics().sent


async def test_edf_night_over_ble_equals_replaying_the_edf(tmp_path: Path) -> None:
    """Issue 4: the same EDF through bleak → codec → detector, and straight from the file."""
    plan = plan_night(seed=4, hours=0.1, profile="dense", emg_rate_hz=1000.0, accel_rate_hz=50.0)
    edf = write_night(plan, tmp_path / "night.edf")
    records: list[EventRecord] = []
    replay_file(
        edf,
        make_detector=lambda **kw: Pipeline(Settings().detector, **kw),
        leg="left",
        on_event=records.append,
    )
    found = as_json(records)
    playback = await start_virtual_edf(edf, speed=None)
    state = tmp_path / "state"
    result = await run_night(
        Settings(daemon=DaemonSettings(state_dir=str(state))),
        state_dir=state,
        virtual=playback,
        with_prompt=False,
    )
    live = [e for e in as_json(result.summary.events) if e["event"] != "cramp_update"]
    direct = [e for e in found if e["event"] != "cramp_update"]
    assert [e["event"] for e in live] == [e["event"] for e in direct]
    assert any(e["event"] == "cramp_started" for e in live)
    for a, b in zip(live, direct, strict=True):
        # the wearable counts in the file's own steps (half steps here): the same values
        for key in ("t_onset", "t_detect", "t_end", "intensity", "peak_intensity"):
            if key in b:
                assert a[key] == b[key], (key, a, b)


async def test_bedtime_reminder_and_stretch_done_reach_the_nightly_summary(tmp_path: Path) -> None:
    """At the reminder time the daemon reminds (once); the MQTT "stretch done" button logs it."""
    evening = datetime(2026, 11, 26, 22, 5).astimezone()
    settings = Settings(
        daemon=DaemonSettings(state_dir=str(tmp_path)),
        prompt=dataclasses.replace(Settings().prompt, reminder_time="22:00"),
    )
    virtual = await start_virtual(seed=5, hours=0.01, profile="quiet", speed=None)
    daemon = Daemon(
        settings,
        wearables=[WearableSpec("left", virtual.client_factory(settings.wearable, "left"))],
        state_dir=tmp_path,
        wall=evening.timestamp,
    )
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop))
    await asyncio.sleep(1.0)
    assert daemon.night_json(daemon.summary)["bedtime_stretch_done"] is False
    daemon.on_command(Command(name="stretch_done", value="PRESS", sent_at=evening.timestamp()))
    stop.set()
    await run
    await virtual.wearable.stop()
    records = [json.loads(x) for x in (tmp_path / "adherence.jsonl").read_text().splitlines()]
    assert [r["event"] for r in records] == ["reminded", "done"]
    assert {r["night"] for r in records} == {"2026-11-26"}
    assert daemon.night_json(daemon.summary) == {
        **daemon.summary.as_json(),
        "bedtime_stretch_done": True,
        "fault_alerts": [],
    }


async def test_dead_accelerometer_is_said_once_counted_and_the_cramp_still_alarms(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An IMU that died reads zeros: the daemon warns once, counts it, publishes the posture as
    unknown over MQTT (a real mosquitto), and still detects."""
    plan = plan_night(seed=4, hours=0.1, profile="dense", emg_rate_hz=1000.0, accel_rate_hz=50.0)
    specs = [EdfSignalSpec(label, "uV", plan.emg_rate_hz, -10_000.0, 10_000.0)
             for label in plan.emg_labels]
    specs += [EdfSignalSpec(axis, "g", plan.accel_rate_hz, -8.0, 8.0)
              for axis in ("Accel X", "Accel Y", "Accel Z")]
    edf = tmp_path / "dead-imu.edf"
    with EdfWriter(edf, specs, start=plan.start) as writer:
        for emg, accel in render_chunks(plan, chunk_s=60.0):
            writer.write([*emg, *np.zeros_like(accel)])
    playback = await start_virtual_edf(edf, speed=None)
    state = tmp_path / "state"
    broker = Broker(tmp_path / "broker")
    broker.start()
    settings = Settings(
        daemon=DaemonSettings(state_dir=str(state), status_interval_s=0.5),
        mqtt=MqttSettings(enabled=True, host="127.0.0.1", port=broker.port, node_id="deadimu"),
    )
    try:
        with caplog.at_level(logging.INFO, logger="bedside.live"):
            result = await run_night(settings, state_dir=state, virtual=playback, with_prompt=False)
        late = Subscriber(broker, ["crampwatch/deadimu/wearable/posture"])  # the retained state
        (posture,) = late.wait_for(lambda ms: bool(ms), timeout_s=10)
        late.close()
    finally:
        broker.stop()
    assert posture.payload == b"no_data"  # not "unknown": that is Home Assistant's own state
    warnings = [r for r in caplog.records if "no valid accelerometer data" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    worker = result.daemon.workers[0].statistics()
    # every second of usable EMG after the rest floor's warm-up was blind, and counted
    assert worker.stream_s - FLOOR_MIN_S - 30.0 <= worker.seconds_without_accel <= worker.stream_s
    assert any(e["event"] == "cramp_started" for e in as_json(result.summary.events))
