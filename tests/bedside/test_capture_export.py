"""``crampwatch capture`` and ``crampwatch export``: real parts end to end.

Capture: the production ``BleClient`` records a virtual wearable (bumble) that cuts the link
every few stream-seconds; the session reads back, the codec finds a gap at every drop, and it
replays. Export: a session with a cramp and two link drops (written with the real encoder and
``SessionWriter``) becomes EDF+C (or EDF+D with ``--discontinuous``), read back with the readers
users open files with (pyedflib, MNE, edfio) and with our own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import edfio
import mne
import numpy as np
import pyedflib
import pytest

from bedside.cli import main
from bedside.config.settings import Settings
from bedside.live.virtual import device_info_for
from bedside.stream.build import detector_factory
from bedside.stream.edf_feed import replay_file, select_channels
from bedside.stream.session_feed import replay_session
from detector.types import FloatArray
from firmware_bridge.codec import Decoder, Frame, Gap
from firmware_bridge.edf import EdfReader, EdfWriter
from firmware_bridge.edf_writer import GridWriter, export_labels, record_duration, signal_specs
from firmware_bridge.protocol import DeviceInfo, Leg, Site
from firmware_bridge.recording import Notification, SessionWriter, read_session
from firmware_bridge.simulation import plan_night, render_chunks
from firmware_bridge.source import LinkEvent
from firmware_bridge.virtual_wearable import ChunkPayloads
from tests.conftest import as_json

DROP_EVERY_S = 30.0
CAPTURE_S = 90.0


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 90-s virtual night at 20× real time, the link cut every 30 stream-seconds."""
    tmp = tmp_path_factory.mktemp("capture")
    config = tmp / "fast.toml"
    config.write_text("[wearable]\nbackoff_base_s = 0.1\n")
    out = tmp / "night.cwsession"
    argv = ["capture", "--virtual", "sim:0", "--duration", str(CAPTURE_S), "--speed", "20"]
    argv += ["--drop-every", str(DROP_EVERY_S), "--config", str(config), "-o", str(out)]
    assert main(argv) == 0
    return out


def _decode(path: Path) -> tuple[DeviceInfo, list[Frame], list[Gap], list[LinkEvent]]:
    links: list[LinkEvent] = []
    notes: list[bytes] = []
    with read_session(path) as reader:
        for record in reader:
            if isinstance(record, Notification):
                notes.append(record.data)
            else:
                links.append(record)
        assert reader.report().clean_end and reader.report().corrupt_records == 0
    (data,) = {bytes(e.fields["data"]) for e in links if e.kind == "device_info"}
    info = DeviceInfo.from_bytes(data)
    decoder = Decoder(info)
    for note in notes:
        decoder.feed(note)
    items = list(decoder.events())
    frames = [i for i in items if isinstance(i, Frame)]
    assert len(frames) == len(notes)  # nothing bad on the way
    return info, frames, [i for i in items if isinstance(i, Gap)], links


def test_capture_records_drops_as_gaps_and_replays(captured: Path) -> None:
    info, frames, gaps, links = _decode(captured)
    drops = [e for e in links if e.kind == "disconnected"]
    connects = [e for e in links if e.kind == "connected"]
    assert len(drops) == int(CAPTURE_S // DROP_EVERY_S) - 1 >= 2  # the last cut ends the night
    assert len(connects) == len(drops) + 1
    # The clock ran on at 20× while the link was down: one gap per drop, each starting after
    # exactly DROP_EVERY_S of streamed samples since the previous (re)connect.
    assert len(gaps) == len(drops)
    rate = info.emg_rate_hz
    lost = 0
    for k, gap in enumerate(gaps, start=1):
        assert gap.at_index - lost == round(k * DROP_EVERY_S * rate)
        lost += gap.emg_samples_missing
    assert frames[0].first_emg_index == 0
    end = frames[-1].first_emg_index + frames[-1].emg.shape[1]
    assert end == round(CAPTURE_S * rate)

    result = replay_session(
        captured, make_detector=detector_factory(Settings().detector)
    )
    assert result.stream.gaps == result.statistics.gaps == len(gaps)
    assert result.drops == len(drops)
    assert result.duration_s == pytest.approx(CAPTURE_S)
    assert result.read.notifications == len(frames)


def test_capture_never_overwrites(captured: Path) -> None:
    size = captured.stat().st_size
    assert main(["capture", "--virtual", "sim:0", "-o", str(captured)]) == 65
    assert captured.stat().st_size == size
    assert main(["capture", "--address", "AA:BB:CC:DD:EE:FF", "--drop-every", "5", "-o", "x"]) == 65


def test_export_of_a_capture_reads_in_edfio(captured: Path, tmp_path: Path) -> None:
    out = tmp_path / "night.edf"
    assert main(["export", str(captured), "-o", str(out)]) == 0
    info, _, gaps, links = _decode(captured)
    edf = edfio.read_edf(out)
    labels = [s.label for s in edf.signals]
    leg = {Leg.LEFT: "L", Leg.RIGHT: "R"}[info.leg]
    assert labels[-4:] == [f"MISC Accel {a} {leg}" for a in "XYZ"] + [f"MISC Status {leg}"]
    assert len(labels) == info.n_emg_channels + 4
    assert all(x.startswith("EMG") and x.endswith(f" {leg}") for x in labels[:-4])
    texts = [a.text for a in edf.annotations]
    assert sum(t.startswith("gap ") for t in texts) == len(gaps)
    assert sum(t.startswith("link disconnected") for t in texts) == sum(
        e.kind == "disconnected" for e in links
    )
    assert not EdfReader(out).is_discontinuous


# -- export of a session with a cramp and two drops ----------------------------------------------
DROPS_S = ((40.0, 52.37), (250.0, 263.123))  # stream seconds lost; the cramp is at 94–155 s


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def mono(self) -> float:
        return self.t

    def wall(self) -> float:
        return 1_795_000_000.0 + self.t


@pytest.fixture(scope="module")
def cramp_session(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, DeviceInfo, tuple[float, float]]:
    """Six dense minutes (seed 0: a cramp at 94–155 s) as the wearable sends them, with the
    notifications of DROPS_S missing, written as a capture would write them."""
    plan = plan_night(seed=0, hours=0.1, profile="dense", emg_rate_hz=1000.0, accel_rate_hz=50.0)
    (cramp,) = plan.truth["cramps"]
    assert all(b < cramp["onset_s"] - 10 or a > cramp["end_s"] + 10 for a, b in DROPS_S)
    info = device_info_for(plan)
    payloads = ChunkPayloads(render_chunks(plan, chunk_s=10.0), info)
    clock = _Clock()
    path = tmp_path_factory.mktemp("export") / "cramp.cwsession"
    start = datetime.fromtimestamp(clock.wall(), UTC)
    with SessionWriter(path, session_start=start, monotonic=clock.mono, wall=clock.wall) as w:
        w.link_event("connected", address="F0:CA:1F:00:00:01", mtu=247)
        w.link_event("device_info", data=info.to_bytes(), session_id="export-test", label="left")
        t = 0.0
        down = False
        while (payload := payloads(244)) is not None:
            data, duration_s = payload
            lost = any(a <= t < b for a, b in DROPS_S)
            if lost and not down:
                w.link_event("disconnected", reason="link lost")
            elif down and not lost:
                w.link_event("connected", address="F0:CA:1F:00:00:01", mtu=247)
            down = lost
            t += duration_s
            clock.t = t
            if not lost:
                w.notification(data, t)
    return path, info, (float(cramp["onset_s"]), float(cramp["end_s"]))


@pytest.fixture(scope="module")
def exported(
    cramp_session: tuple[Path, DeviceInfo, tuple[float, float]],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Path]:
    """The cramp session exported both ways: ``"C"`` (the default) and ``"D"``."""
    path = cramp_session[0]
    tmp = tmp_path_factory.mktemp("exported")
    out = {"C": tmp / "cramp.edf", "D": tmp / "cramp_d.edf"}
    assert main(["export", str(path), "-o", str(out["C"])]) == 0
    assert main(["export", str(path), "-o", str(out["D"]), "--discontinuous"]) == 0
    return out


@pytest.fixture(scope="module")
def replayed_events(
    cramp_session: tuple[Path, DeviceInfo, tuple[float, float]],
) -> list[dict[str, Any]]:
    make_detector = detector_factory(Settings().detector)
    events = as_json(replay_session(cramp_session[0], make_detector=make_detector).events)
    assert _hit([e for e in events if e["event"] == "cramp_started"], cramp_session[2])
    return events


def _decoded_frames(path: Path, info: DeviceInfo) -> list[Frame]:
    decoder = Decoder(info)
    with read_session(path) as reader:
        for record in reader:
            if isinstance(record, Notification):
                decoder.feed(record.data)
    return [e for e in decoder.events() if isinstance(e, Frame)]


@pytest.mark.parametrize("kind", ["C", "D"])
def test_export_has_signals_gaps_and_cramp_annotations(
    cramp_session: tuple[Path, DeviceInfo, tuple[float, float]],
    exported: dict[str, Path],
    replayed_events: list[dict[str, Any]],
    kind: str,
) -> None:
    path, info, truth = cramp_session
    make_detector = detector_factory(Settings().detector)
    replayed = replay_session(path, make_detector=make_detector)
    starts = [e for e in replayed_events if e["event"] == "cramp_started"]
    ends = [e for e in replayed_events if e["event"] == "cramp_ended"]

    out = exported[kind]
    assert out.stat().st_mode & 0o777 == 0o600  # health data
    edf = edfio.read_edf(out)
    # Every detector event is there: cramp_started at t_detect, the cramp as a span.
    start_ann = [a for a in edf.annotations if a.text.startswith("cramp_started")]
    spans = [a for a in edf.annotations if a.text.startswith("cramp ")]
    assert [a.onset for a in start_ann] == pytest.approx([e["t_detect"] for e in starts], abs=1e-6)
    for span, end in zip(spans, ends, strict=True):
        assert span.onset == pytest.approx(end["t_onset"], abs=1e-6)
        assert span.duration == pytest.approx(end["duration_s"], abs=1e-6)
    gaps = sorted((a.onset, a.duration) for a in edf.annotations if a.text.startswith("gap "))
    assert len(gaps) == len(DROPS_S)
    for (onset, duration), (a, b) in zip(gaps, DROPS_S, strict=True):
        # notifications carry 50 ms: a drop loses whole notifications around [a, b)
        assert duration is not None
        assert onset == pytest.approx(a, abs=0.05)
        assert onset + duration == pytest.approx(b, abs=0.05)
    assert sum(a.text.startswith("link disconnected") for a in edf.annotations) == 2
    assert edf.starttime == replayed.start.time().replace(tzinfo=None)
    assert edf.recording.equipment_code.startswith("crampwatch_")

    # Lossless: until the first gap, the EDF's EMG is the codec's µV, value for value.
    frames = _decoded_frames(path, info)
    first = np.concatenate([f.emg for f in frames if f.first_emg_index < 40_000], axis=1)
    assert first.shape[1] == 40_000
    np.testing.assert_allclose(edf.signals[0].data[:40_000], first[0], rtol=0, atol=1e-9)

    edf_reader = EdfReader(out)
    assert edf_reader.is_discontinuous == (kind == "D")
    channels = select_channels(edf_reader)  # replay finds the labels export writes
    assert channels.emg_labels == export_labels(info).emg
    assert channels.accel_labels == export_labels(info).accel
    again = replay_file(edf_reader, make_detector=make_detector, leg="left")
    assert again.duration_s == pytest.approx(replayed.duration_s, abs=record_duration(info))
    assert _hit([e for e in as_json(again.events) if e["event"] == "cramp_started"], truth)
    if kind == "C":  # the status signal's zero-filled periods are declared lost, not fed
        assert again.statistics.gaps == len(DROPS_S)
        assert [(e.kind, e.t_onset, e.t_detect, e.t_end) for e in again.events] == [
            (e.kind, e.t_onset, e.t_detect, e.t_end) for e in replayed.events]
    if kind == "D":  # our reader: both gaps as discontinuities, the timeline of the session
        assert again.gaps == len(DROPS_S)


def test_export_continuous_places_samples_after_a_gap_and_flags_the_fill(
    cramp_session: tuple[Path, DeviceInfo, tuple[float, float]], exported: dict[str, Path]
) -> None:
    """EDF+C: every received sample at its stream time, zeros in the gaps, the status says so."""
    path, info, _ = cramp_session
    edf = edfio.read_edf(exported["C"])
    labels = export_labels(info)
    assert [s.label for s in edf.signals] == list(labels.all)
    emg_rate, acc_rate = info.emg_rate_hz, info.accel_rate_hz
    n, m = round(edf.duration * emg_rate), round(edf.duration * acc_rate)
    expect = _stream_emg(path, info, n)
    np.testing.assert_allclose(edf.signals[0].data, expect, rtol=0, atol=1e-9)
    got_emg, got_acc = np.zeros(n, dtype=bool), np.zeros(m, dtype=bool)
    for f in _decoded_frames(path, info):
        got_emg[f.first_emg_index : f.first_emg_index + f.emg.shape[1]] = True
        got_acc[f.first_accel_index : f.first_accel_index + f.accel.shape[1]] = True
    status = edf.signals[-1].data.astype(int)
    assert status.size == m
    ratio = emg_rate // acc_rate
    lost_emg = ~got_emg.reshape(m, ratio).all(axis=1)
    np.testing.assert_array_equal(status & 1, lost_emg)
    np.testing.assert_array_equal(status & 2, 2 * ~got_acc)
    lost_s = np.count_nonzero(status) / acc_rate
    assert lost_s == pytest.approx(sum(b - a for a, b in DROPS_S), abs=0.2)


def _stream_emg(path: Path, info: DeviceInfo, n: int) -> FloatArray:
    """The first EMG channel (µV) of the session's frames at their stream index, 0 in gaps."""
    emg = np.zeros(n)
    for f in _decoded_frames(path, info):
        emg[f.first_emg_index : f.first_emg_index + f.emg.shape[1]] = f.emg[0]
    return emg


def _detect_times(events: list[dict[str, Any]]) -> list[float]:
    times = [float(e["t_detect"]) for e in events if e["event"] == "cramp_started"]
    # The cramp lies after the first gap: a reader that closed the gap would move it.
    assert times and min(times) > DROPS_S[0][1]
    return times


def test_export_reads_in_pyedflib(
    cramp_session: tuple[Path, DeviceInfo, tuple[float, float]],
    exported: dict[str, Path],
    replayed_events: list[dict[str, Any]],
) -> None:
    path, info, _ = cramp_session
    with pyedflib.EdfReader(str(exported["C"])) as f:
        assert f.getSignalLabels() == list(export_labels(info).all)
        assert f.getEquipment().startswith("crampwatch ")  # pyedflib shows "_" as a space
        emg = f.readSignal(0)
        np.testing.assert_allclose(emg, _stream_emg(path, info, emg.size), rtol=0, atol=1e-6)
        onsets, _, texts = f.readAnnotations()
    starts = [float(o) for o, t in zip(onsets, texts, strict=True) if t.startswith("cramp_started")]
    assert starts == pytest.approx(_detect_times(replayed_events), abs=1e-3)


def test_export_reads_in_mne_with_channel_types(
    cramp_session: tuple[Path, DeviceInfo, tuple[float, float]],
    exported: dict[str, Path],
    replayed_events: list[dict[str, Any]],
) -> None:
    path, info, _ = cramp_session
    raw = mne.io.read_raw_edf(exported["C"], infer_types=True, preload=True, verbose="error")
    n_emg = info.n_emg_channels
    assert raw.get_channel_types() == ["emg"] * n_emg + ["misc"] * 4
    labels = export_labels(info)
    assert raw.ch_names[n_emg:] == [x.removeprefix("MISC ") for x in (*labels.accel, labels.status)]
    # Every EMG sample at its stream time (MNE reads EDF+D as if continuous: after a gap the
    # samples would come early). MNE gives volts.
    expect = _stream_emg(path, info, raw.n_times) * 1e-6
    np.testing.assert_allclose(raw.get_data(picks=[0])[0], expect, rtol=0, atol=1e-12)
    starts = [
        float(a["onset"]) for a in raw.annotations if a["description"].startswith("cramp_started")
    ]
    assert starts == pytest.approx(_detect_times(replayed_events), abs=1e-3)


def _hit(starts: list[dict[str, Any]], truth: tuple[float, float]) -> bool:
    """A cramp_started inside the simulated cramp's scoring window (docs/contracts.md)."""
    return any(truth[0] - 0.5 <= e["t_detect"] <= truth[1] + 2.0 for e in starts)


GRID_INFO = DeviceInfo(
    emg_rate_hz=100,
    accel_rate_hz=20,
    emg_sites=(Site.GASTROCNEMIUS_MEDIAL,),
    emg_uv_per_lsb=1.0,
    accel_g_per_lsb=2.0**-12,
    leg=Leg.LEFT,
    firmware_version=(0, 1, 0),
)
GRID_EMG = np.arange(60, dtype=np.float64)[None, :] + 1.0
GRID_ACCEL = np.tile(np.arange(12, dtype=np.float64) / 64.0, (3, 1))


def _grid_file(path: Path, *, continuous: bool) -> GridWriter:
    """Records of 10 EMG / 2 accel samples; data at EMG [0, 25) and [47, 60), accel [0, 5) and
    [9, 12) (accel k belongs to EMG 5k): records 0–2 and 4–5 hold data (2 and 4 in part)."""
    record_s = record_duration(GRID_INFO)
    assert record_s == 0.1
    writer = EdfWriter(
        path,
        signal_specs(GRID_INFO),
        start=datetime(2026, 11, 27, 1, 2, 3),
        record_duration_s=record_s,
    )
    grid = GridWriter(writer, GRID_INFO, record_s, continuous=continuous)
    grid.add(GRID_EMG[:, :25], GRID_ACCEL[:, :5], 0, 0)
    grid.add(GRID_EMG[:, 47:60], GRID_ACCEL[:, 9:12], 47, 9)
    grid.close()
    writer.close()
    return grid


def test_grid_writer_zero_fills_gaps_and_flags_them(tmp_path: Path) -> None:
    path = tmp_path / "grid.edf"
    grid = _grid_file(path, continuous=True)
    assert (grid.records, grid.empty_records, grid.filled_samples) == (6, 1, 5 + 10 + 7)
    reader = EdfReader(path)
    assert not reader.is_discontinuous and reader.n_records == 6
    (chunk,) = reader.iter_grouped([[0], [1, 2, 3], [4]], 10)
    assert chunk.onset_s == 0.0
    expect = np.concatenate([GRID_EMG[0, :25], np.zeros(22), GRID_EMG[0, 47:60]])
    np.testing.assert_array_equal(chunk.arrays[0][0], expect)
    # status per accel period (5 EMG samples): 3 = both filled; period 9 has its accel sample but
    # EMG 45-46 were filled (1)
    np.testing.assert_array_equal(chunk.arrays[2][0], [0] * 5 + [3] * 4 + [1] + [0] * 2)


def test_grid_writer_discontinuous_leaves_empty_records_out(tmp_path: Path) -> None:
    path = tmp_path / "grid.edf"
    grid = _grid_file(path, continuous=False)
    assert (grid.records, grid.empty_records, grid.filled_samples) == (5, 1, 5 + 7)
    emg, accel = GRID_EMG, GRID_ACCEL

    reader = EdfReader(path)
    assert reader.is_discontinuous and reader.n_records == 5
    chunks = list(reader.iter_grouped([[0], [1, 2, 3]], 10))
    assert [c.onset_s for c in chunks] == [0.0, 0.4]
    expect_first = np.concatenate([emg[0, :25], np.zeros(5)])
    expect_second = np.concatenate([np.zeros(7), emg[0, 47:60]])
    np.testing.assert_array_equal(chunks[0].arrays[0][0], expect_first)
    np.testing.assert_array_equal(chunks[1].arrays[0][0], expect_second)
    # Accelerometer: the 8-character physical_max of the EDF header ("7.999756" for 32767 LSB of
    # 2^-12 g) makes the reader's gain differ by ~1e-7 relative; the stored counts are exact.
    np.testing.assert_allclose(
        chunks[0].arrays[1][0], np.concatenate([accel[0, :5], [0.0]]), rtol=1e-6, atol=1e-5
    )
    np.testing.assert_allclose(
        chunks[1].arrays[1][0], np.concatenate([[0.0], accel[0, 9:12]]), rtol=1e-6, atol=1e-5
    )


def test_capture_plays_an_edf_night(tmp_path: Path) -> None:
    """``--virtual NIGHT.edf``: the virtual wearable plays a recording; the capture holds it all."""
    night = tmp_path / "night.edf"
    assert main(["simulate", "--hours", "0.01", "--seed", "2", "-o", str(night)]) == 0
    out = tmp_path / "edf.cwsession"
    assert main(["capture", "--virtual", str(night), "-o", str(out)]) == 0
    make_detector = detector_factory(Settings().detector)
    result = replay_session(out, make_detector=make_detector)
    assert result.stream.gaps == 0 and result.decoder.bad_frames == 0
    assert result.duration_s == pytest.approx(EdfReader(night).duration_s, abs=0.05)
    assert (
        main(["capture", "--virtual", str(tmp_path / "missing.edf"), "-o", str(tmp_path / "m")])
        == 65
    )
