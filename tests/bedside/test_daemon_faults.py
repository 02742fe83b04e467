"""A wearable whose electrode comes off, end to end: the daemon says so once, softly (a WAV)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from bedside.config.daemon import DaemonSettings
from bedside.config.prompt import FaultAlertSettings
from bedside.config.settings import Settings
from bedside.live.service import run_night
from bedside.live.virtual import start_virtual_edf
from bedside.prompt.speech import wav_stats
from firmware_bridge.edf import EdfSignalSpec, EdfWriter
from firmware_bridge.simulation import plan_night, render_chunks

ATTACHED_S = 120.0  # then the electrode is off: a flat line (detector quality lead_off)


def electrode_off_night(tmp_path: Path) -> Path:
    plan = plan_night(seed=5, hours=0.25, profile="quiet", emg_rate_hz=1000.0, accel_rate_hz=50.0)
    specs = [EdfSignalSpec(label, "uV", plan.emg_rate_hz, -10_000.0, 10_000.0)
             for label in plan.emg_labels]  # fmt: skip
    specs += [EdfSignalSpec(axis, "g", plan.accel_rate_hz, -8.0, 8.0)
              for axis in ("Accel X", "Accel Y", "Accel Z")]  # fmt: skip
    edf = tmp_path / "electrode-off.edf"
    t0 = 0.0
    with EdfWriter(edf, specs, start=plan.start) as writer:
        for emg, accel in render_chunks(plan, chunk_s=60.0):
            t = t0 + np.arange(emg.shape[1]) / plan.emg_rate_hz
            writer.write([*np.where(t >= ATTACHED_S, 0.0, emg), *accel])
            t0 += emg.shape[1] / plan.emg_rate_hz
    return edf


async def test_electrode_off_is_said_once_softly_and_listed_in_the_summary(tmp_path: Path) -> None:
    now = datetime.now().astimezone()
    window = FaultAlertSettings(  # tonight's window around the test's own clock
        active_from=f"{now - timedelta(hours=1):%H:%M}",
        active_until=f"{now + timedelta(hours=2):%H:%M}",
    )
    state = tmp_path / "state"
    prompt = dataclasses.replace(Settings().prompt, cache_dir=str(tmp_path / "cache"),
                                 faults=window)  # fmt: skip
    settings = Settings(daemon=DaemonSettings(state_dir=str(state)), prompt=prompt)
    playback = await start_virtual_edf(electrode_off_night(tmp_path), speed=None)
    result = await run_night(settings, state_dir=state, virtual=playback, wav_dir=tmp_path / "wav")

    said = sorted((tmp_path / "wav").glob("*-fault.*.wav"))
    assert [p.name.split("-", 1)[1] for p in said] == ["fault.lead_off.left.wav"]
    # softly: at volume_pct of the rendered phrase
    (cached,) = [p for p in (tmp_path / "cache").glob("fault.lead_off.left-*.wav")
                 if ".g" not in p.name]  # the rendered phrase, not its loudness variants
    ratio = wav_stats(said[0]).rms / wav_stats(cached).rms
    assert abs(ratio - window.volume_pct / 100) < 0.03
    summary = result.daemon.night_json(result.summary)
    (alert,) = summary["fault_alerts"]
    assert (alert["kind"], alert["leg"], alert["outcome"]) == ("lead_off", "left", "spoken")
    worker = result.daemon.workers[0].statistics()
    assert worker.seconds_bad_quality >= worker.stream_s - ATTACHED_S - 1.0
