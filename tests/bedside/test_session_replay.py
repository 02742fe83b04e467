"""Session replay: a recorded live night replays to exactly the events the daemon produced.

No mocks: a simulated night is played by the virtual wearable over bumble, received by the
production ``BleClient``, recorded and detected by the real daemon (``run_night``); the session
file it wrote is then replayed through ``bedside.stream.session_feed`` and ``crampwatch replay``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bedside.cli import main
from bedside.config.daemon import DaemonSettings
from bedside.config.settings import Settings
from bedside.live.service import run_night
from bedside.live.virtual import start_virtual
from bedside.live.worker import LegWorker
from bedside.stream.build import DetectorFactory, detector_factory
from bedside.stream.edf_feed import is_session_file
from bedside.stream.records import EventRecord
from bedside.stream.session_feed import probe_session, replay_session
from firmware_bridge.errors import InputError
from firmware_bridge.recording import (
    FILE_HEADER_SIZE,
    Notification,
    RecordingSource,
    read_session,
)
from tests.conftest import as_json


@dataclass(frozen=True)
class LiveNight:
    session: Path
    events: list[EventRecord]
    session_id: str
    sent: int
    truth: dict[str, Any]


async def _live_night(state_dir: Path) -> LiveNight:
    settings = Settings(daemon=DaemonSettings(state_dir=str(state_dir)))
    virtual = await start_virtual(seed=0, hours=0.1, profile="dense", speed=None)
    result = await run_night(settings, state_dir=state_dir, virtual=virtual, with_prompt=False)
    (session,) = (state_dir / "sessions").iterdir()
    return LiveNight(
        session=session,
        events=result.summary.events,
        session_id=result.daemon.session_id,
        sent=virtual.wearable.statistics().sent,
        truth=virtual.truth,
    )


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> LiveNight:
    """One live night (about 20 s) shared by the tests of this module."""
    return asyncio.run(_live_night(tmp_path_factory.mktemp("live")))


@pytest.fixture(scope="module")
def make_detector() -> DetectorFactory:
    return detector_factory(Settings().detector)


def test_session_replay_equals_live_events(live: LiveNight, make_detector: DetectorFactory) -> None:
    assert any(e.kind == "cramp_started" for e in live.events), "the simulated cramp was missed"
    result = replay_session(live.session, make_detector=make_detector)
    # Everything equal: kinds, stream times, wall-clock times, ids (session id and leg included).
    assert result.events == live.events
    # Also when every notification is its own detector call, exactly as the daemon fed them.
    per_frame = replay_session(live.session, make_detector=make_detector, batch_s=0.0)
    assert per_frame.events == live.events
    assert result.session_id == live.session_id
    assert result.read.notifications == result.decoder.frames == live.sent
    assert result.read.clean_end and result.read.truncated_tail_bytes == 0
    assert result.stream.gaps == 0 and result.drops == 0


def test_probe_finds_what_the_daemon_recorded(live: LiveNight) -> None:
    probe = probe_session(live.session)
    assert probe.session_id == live.session_id
    assert probe.label == "left"
    assert probe.session_start is not None and probe.device_emg_index is not None
    assert probe.info.emg_rate_hz == 1000 and probe.info.accel_rate_hz == 50
    assert is_session_file(live.session)


def _prefix_ok(cut: list[EventRecord], live: list[EventRecord], end_s: float) -> None:
    """The cut replay's events are the live ones up to the cut; a cramp still running at the cut
    is closed there by ``finish()`` (its ``cramp_ended`` is the only event that may differ)."""
    if cut and cut[-1].kind == "cramp_ended" and (cut[-1].t_end or 0.0) >= end_s - 1.0:
        cut = cut[:-1]
    assert cut == live[: len(cut)]


def test_power_cut_replays_up_to_the_cut(
    live: LiveNight, make_detector: DetectorFactory, tmp_path: Path, rng: np.random.Generator
) -> None:
    data = live.session.read_bytes()
    full_notifications = sum(isinstance(r, Notification) for r in read_session(live.session))
    cuts = [int(rng.integers(FILE_HEADER_SIZE + 1, len(data)))]
    cuts.append(len(data) * 3 // 4)  # past the cramp of the dense profile's first minutes
    for cut in cuts:
        path = tmp_path / f"cut-{cut}.cwsession"
        path.write_bytes(data[:cut])
        result = replay_session(path, make_detector=make_detector)
        assert not result.read.clean_end
        assert 0 < result.read.notifications < full_notifications
        assert result.decoder.frames == result.read.notifications
        # Everything before the cut: the stream reaches within one notification of the cut.
        assert result.duration_s > 0
        _prefix_ok(result.events, live.events, result.duration_s)


def test_cut_inside_the_header_is_one_line(live: LiveNight, tmp_path: Path) -> None:
    path = tmp_path / "header.cwsession"
    path.write_bytes(live.session.read_bytes()[:10])
    assert not is_session_file(tmp_path / "missing.edf")  # a .cwsession is one by its name
    # 10 bytes carry the magic: the CLI takes it as a session and says what is wrong, exit 65.
    assert is_session_file(path)
    assert main(["replay", str(path)]) == 65


def test_session_without_device_info_is_refused(live: LiveNight, tmp_path: Path) -> None:
    """A session whose device info record is damaged cannot be decoded: InputError, no crash."""
    data = bytearray(live.session.read_bytes())
    at = data.find(b'"device_info"')
    while at >= 0:
        data[at + 1] ^= 0xFF  # the record's CRC now fails: it is skipped as damage
        at = data.find(b'"device_info"', at + 1)
    path = tmp_path / "noinfo.cwsession"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="no device info"):
        probe_session(path)


def test_cli_replays_a_session(
    live: LiveNight, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / live.session.name
    shutil.copyfile(live.session, copy)
    assert main(["replay", str(copy)]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert out == as_json(live.events)
    assert main(["replay", str(copy), "--plot", str(tmp_path / "x.png")]) == 65


def test_cli_scores_a_session_against_truth(
    live: LiveNight, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = tmp_path / "night.truth.json"
    truth.write_text(json.dumps(live.truth))
    events = tmp_path / "events.jsonl"
    argv = ["replay", str(live.session), "--truth", str(truth), "--events", str(events)]
    assert main(argv) == 0
    table = capsys.readouterr().out  # with --events the scorer's table goes to stdout
    header, _, row = table.splitlines()[:3]
    assert header.split()[:4] == ["night", "hours", "cramps", "hits"]
    assert row.split()[:3] == ["night", "0.10", str(len(live.truth["cramps"]))]
    assert [json.loads(line) for line in events.read_text().splitlines()] == as_json(live.events)


def test_damaged_record_in_the_middle_is_counted_and_becomes_a_gap(
    live: LiveNight, make_detector: DetectorFactory, tmp_path: Path
) -> None:
    data = bytearray(live.session.read_bytes())
    middle = next(
        r.offset for i, r in enumerate(read_session(live.session)) if i > 3000
    )  # a notification record about half way
    data[middle + 40] ^= 0x5A  # inside its body: the record's CRC-32 fails
    path = tmp_path / "damaged.cwsession"
    path.write_bytes(bytes(data))
    result = replay_session(path, make_detector=make_detector)
    assert result.read.corrupt_records == 1 and result.read.clean_end
    assert result.read.notifications == live.sent - 1
    # The lost notification is a gap for the detector, not glued samples.
    assert result.stream.gaps == result.statistics.gaps == 1
    assert result.stream.missing_emg_samples > 0
    assert result.duration_s == pytest.approx(360.0)


async def test_the_live_worker_over_the_recording_gives_the_live_events(live: LiveNight) -> None:
    """The recording *is* a PacketSource: the daemon's own worker, fed the recorded packets,
    gives the events it gave that night (the stream times and ids; the wall clock is taken
    anew, so ``time`` is left out)."""
    found: list[EventRecord] = []
    worker = LegWorker(
        label="left", settings=Settings(), session_id=live.session_id, on_record=found.append,
        recording_dir=None,
    )
    await worker.run(RecordingSource(live.session))

    def stream_view(events: list[EventRecord]) -> list[tuple[object, ...]]:
        return [(e.kind, e.event_id, e.t_onset, e.t_detect, e.t_end, e.duration_s, e.intensity)
                for e in events]

    assert found and stream_view(found) == stream_view(live.events)
    assert worker.statistics().frames == live.sent
