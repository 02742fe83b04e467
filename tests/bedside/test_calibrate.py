"""``crampwatch calibrate``, ``replay --calibration``, and the daemon using a leg's calibration.

Real parts: EDF files written with our EDF writer, the production pipeline, and for the daemon
the virtual wearable over bleak/bumble, its session recording replayed by ``crampwatch replay``.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from bedside.cli import main
from bedside.config.daemon import DaemonSettings
from bedside.config.settings import Settings
from bedside.live.service import run_night
from bedside.live.virtual import start_virtual
from bedside.stream.calibration_store import calibration_path, load_calibration, save_calibration
from bedside.stream.session_feed import probe_session
from detector.calibration import Calibration, band_rms_frames
from detector.floor import FLOOR_MIN_S
from firmware_bridge.edf import EdfSignalSpec, EdfWriter
from firmware_bridge.errors import InputError
from firmware_bridge.simulation import render_chunks
from tests.conftest import as_json
from tests.detector.synth import Night, render

START = datetime(2026, 11, 26, 22, 30, 0)
RATE, ACC_HZ = 1000.0, 50.0


def write_edf(path: Path, night: Night) -> Path:
    emg, acc = render(night, RATE, ACC_HZ)
    specs = [EdfSignalSpec("EMG calf", "uV", RATE, -5000.0, 5000.0)]
    specs += [EdfSignalSpec(f"Accel {a}", "g", ACC_HZ, -8.0, 8.0) for a in "XYZ"]
    with EdfWriter(path, specs, start=START) as w:
        w.write([emg[0], *acc])
    return path


def calibration_recording(path: Path, contraction: float = 20.0) -> Path:
    """20 s relaxed, a 4-s contraction at 22-26 s, relaxed again."""
    return write_edf(path, Night(seconds=40.0, seed=3, bursts=[(22.0, 26.0, contraction)]))


def cli(*args: str | Path) -> int:
    return main([str(a) for a in args])


def test_calibrate_an_edf_and_replay_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "cal.json"
    code = cli("calibrate", calibration_recording(tmp_path / "c.edf"), "--rest", "0:20",
               "--contraction", "21:27", "--out", out)
    err = capsys.readouterr().err
    assert code == 0, err
    assert "EMG calf: rest" in err and "written" in err
    saved = json.loads(out.read_text())
    assert saved["leg"] == "left" and saved["channels"] == ["EMG calf"]
    cal = load_calibration(out)
    assert cal.contraction_ratio[0] > 10

    # a night whose cramp starts before the rest floor could exist: found only calibrated
    night = write_edf(tmp_path / "n.edf",
                      Night(seconds=150.0, seed=5, bursts=[(10.0, 100.0, 4.0)]))
    assert cli("replay", night, "--events", tmp_path / "plain.jsonl") == 0
    with caplog.at_level(logging.INFO):
        assert cli("replay", night, "--calibration", out, "--events", tmp_path / "cal.jsonl") == 0
    assert "× the calibrated rest" in caplog.text

    def first_detect(p: Path) -> float:
        return min(float(json.loads(line)["t_detect"]) for line in p.read_text().splitlines()
                   if json.loads(line)["event"] == "cramp_started")

    assert first_detect(tmp_path / "plain.jsonl") >= FLOOR_MIN_S
    assert first_detect(tmp_path / "cal.jsonl") < 20.0


def test_calibrate_writes_to_the_legs_file_in_the_state_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[daemon]\nstate_dir = "{tmp_path / "state"}"\n')
    code = cli("calibrate", calibration_recording(tmp_path / "c.edf"), "--rest", "0:20",
               "--contraction", "21:27", "--leg", "right", "--config", config)
    assert code == 0, capsys.readouterr().err
    assert load_calibration(calibration_path(tmp_path / "state", "right")).rest_uv


@pytest.mark.parametrize(("args", "message"), [
    (("--rest", "0:20", "--contraction", "0:20"), "× over rest (needs 4×)"),  # no contraction
    (("--rest", "0:5", "--contraction", "21:27"), "at least 10 s"),
    (("--rest", "0:20", "--contraction", "35:50"), "not in it"),
])
def test_calibrate_refuses_with_one_line_and_exit_65(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    out = tmp_path / "cal.json"
    code = cli("calibrate", calibration_recording(tmp_path / "c.edf"), *args, "--out", out)
    err = capsys.readouterr().err
    assert code == 65 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_calibrate_span_syntax_is_checked(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli("calibrate", "x.edf", "--rest", "20:10", "--contraction", "1:2")
    assert exc.value.code == 2 and "START < END" in capsys.readouterr().err


def test_broken_calibration_files_are_refused_by_name(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    for text, message in (("{", "not JSON"), ("[1]", "JSON object"),
                          ('{"format": "x"}', "not a calibration")):
        bad.write_text(text)
        with pytest.raises(InputError, match=message):
            load_calibration(bad)
    with pytest.raises(InputError, match="no such"):
        load_calibration(tmp_path / "missing.json")


async def test_daemon_uses_the_legs_calibration_and_records_it_for_replay(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    virtual = await start_virtual(seed=0, hours=0.1, profile="dense", speed=None)
    plan = virtual.plan
    # calibrate from the night's own first 20 s (the leg at rest), so the seed is trusted
    emg = next(iter(render_chunks(plan, chunk_s=20.0)))[0]
    rms, good = band_rms_frames(emg, plan.emg_rate_hz, Settings().detector)
    rest = tuple(float(np.quantile(r[g], 0.2)) for r, g in zip(rms, good, strict=True))
    cal = Calibration(rest_uv=rest, contraction_uv=tuple(20 * v for v in rest))
    state = tmp_path / "state"
    leg = virtual.truth["subject"]["leg"]  # the wearable says which leg it is on
    save_calibration(calibration_path(state, leg), cal)
    settings = Settings(daemon=DaemonSettings(state_dir=str(state)))
    with caplog.at_level(logging.INFO, logger="bedside.live"):
        result = await run_night(settings, state_dir=state, virtual=virtual, with_prompt=False)
    assert "calibration from" in caplog.text
    worker = result.daemon.workers[0].statistics()
    assert worker.leg == leg and 0.5 < worker.floor_vs_calibration < 2.0  # reported, agrees
    live = [e for e in as_json(result.summary.events)
            if e["event"] in ("cramp_started", "cramp_ended")]
    assert live

    # the session recording carries the calibration, and replaying it uses it: same events
    (session,) = (state / "sessions").iterdir()
    recorded = probe_session(session).calibration
    assert recorded is not None and recorded.rest_uv == pytest.approx(cal.rest_uv, rel=1e-3)
    out = tmp_path / "replayed.jsonl"
    with caplog.at_level(logging.INFO):
        assert main(["replay", str(session), "--events", str(out)]) == 0
    assert "using the calibration recorded with the session" in caplog.text
    replayed = [json.loads(line) for line in out.read_text().splitlines()]
    keys = ("event", "t_onset", "t_detect", "t_end")
    assert [tuple(e.get(k) for k in keys) for e in replayed
            if e["event"] in ("cramp_started", "cramp_ended")] == [
        tuple(e.get(k) for k in keys) for e in live]


async def test_daemon_leaves_out_a_broken_calibration_and_still_watches(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    virtual = await start_virtual(seed=5, hours=0.02, profile="quiet", speed=None)
    state = tmp_path / "state"
    state.mkdir()
    calibration_path(state, virtual.truth["subject"]["leg"]).write_text("{not json")
    settings = Settings(daemon=DaemonSettings(state_dir=str(state)))
    with caplog.at_level(logging.INFO, logger="bedside.live"):
        result = await run_night(settings, state_dir=state, virtual=virtual, with_prompt=False)
    assert "calibration not used" in caplog.text and "not JSON" in caplog.text
    assert result.daemon.workers[0].statistics().frames == virtual.wearable.statistics().sent


async def test_daemon_says_once_when_tonights_rest_is_far_from_the_calibration(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    virtual = await start_virtual(seed=5, hours=0.03, profile="quiet", speed=None)
    state = tmp_path / "state"
    far = Calibration(rest_uv=(0.05,), contraction_uv=(5.0,))  # far below any real rest
    save_calibration(calibration_path(state, virtual.truth["subject"]["leg"]), far)
    settings = Settings(daemon=DaemonSettings(state_dir=str(state)))
    with caplog.at_level(logging.INFO, logger="bedside.live"):
        result = await run_night(settings, state_dir=state, virtual=virtual, with_prompt=False)
    said = [r for r in caplog.records if "× the calibrated rest" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING
    assert result.daemon.workers[0].statistics().floor_vs_calibration > 2.0
    assert [e for e in as_json(result.summary.events) if e["event"] == "cramp_started"] == []


def test_guided_calibration_over_ble_from_the_virtual_wearable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The guided path end to end: the virtual wearable (bumble) plays a recording with the
    contraction where the guide asks for it, the production BLE client records it into the
    state dir, and the calibration is measured from that session."""
    state = tmp_path / "state"
    config = tmp_path / "c.toml"
    config.write_text(f'[daemon]\nstate_dir = "{state}"\n')
    edf = calibration_recording(tmp_path / "bedtime.edf")  # contraction at 22-26 s
    code = cli("calibrate", "--virtual", edf, "--config", config)
    err = capsys.readouterr().err
    assert code == 0, err
    (saved,) = state.glob("calibration-*.json")
    assert load_calibration(saved).contraction_ratio[0] > 10
    (session,) = (state / "sessions").glob("*-calibration.cwsession")
    assert json.loads(saved.read_text())["source"] == str(session)


def test_guided_calibration_refuses_spans_and_says_why(capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    code = cli("calibrate", "--virtual", tmp_path / "x.edf", "--rest", "0:20")
    assert code == 65 and "--rest/--contraction are for an INPUT" in capsys.readouterr().err
    code = cli("calibrate", tmp_path / "x.edf")
    assert code == 65 and "needs --rest" in capsys.readouterr().err


def test_cues_come_on_time_from_the_first_data(capsys: pytest.CaptureFixture[str]) -> None:
    from bedside.commands.calibrate import CUES, GUIDED_S, _Cues

    now = [100.0]

    class Rec:  # what _Cues reads of the capture's recorder
        notifications = 0

    cues = _Cues(monotonic=lambda: now[0])
    assert cues(None, Rec()) is False  # type: ignore[arg-type]
    assert capsys.readouterr().err == ""  # nothing before the first data
    Rec.notifications = 1
    seen = []
    for step in range(int(GUIDED_S * 2) + 1):
        now[0] = 200.0 + step / 2
        done = cues(None, Rec())  # type: ignore[arg-type]
        seen += [(now[0] - 200.0, line) for line in capsys.readouterr().err.splitlines()]
        if done:
            break
    assert done and now[0] - 200.0 == GUIDED_S
    assert [(t, line.split("] ", 1)[1]) for t, line in seen] == list(CUES)
