"""``crampwatch replay``: channel picking, units, gaps, EMG-only, scoring, CLI end to end.

A tiny threshold detector (below) stands in for ``detector.pipeline.Pipeline`` so these tests
check the replay plumbing, not the detector's quality. It implements the ``CrampDetector``
protocol with windows on the absolute sample index, so its events do not depend on block size.
"""

from __future__ import annotations

import json
import logging
import os
import pty
import subprocess
import sys
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bedside.cli import main
from bedside.offline.plot import plot_replay
from bedside.stream.build import detector_factory
from bedside.stream.edf_feed import (
    STANDARD_GRAVITY,
    ReplayResult,
    replay_file,
    select_channels,
)
from bedside.stream.records import EventRecord
from detector.settings import DetectorSettings
from detector.types import (
    DetectorEvent,
    EventKind,
    FloatArray,
    PipelineStatistics,
    PipelineStatus,
    Quality,
)
from firmware_bridge.edf import EdfReader, EdfSignalSpec, EdfWriter
from firmware_bridge.errors import InputError
from tests.conftest import ROOT

START = datetime(2026, 11, 26, 22, 30, 0)
EMG_HZ, ACC_HZ = 500.0, 25.0
CRAMPS = [(60.0, 95.0), (180.0, 200.0)]  # (onset_s, end_s) of the bursts in the test nights
NIGHT_S = 300.0


# --- a tiny detector -----------------------------------------------------------------------


class TinyDetector:
    """RMS of EMG channel 0 per 1-s window (absolute index); cramp = 3 windows above 50 µV.

    Ends after 2 windows below. Records what it was fed so tests can look.
    """

    def __init__(
        self,
        settings: DetectorSettings,
        *,
        emg_rate_hz: float,
        accel_rate_hz: float,
        n_emg_channels: int,
    ) -> None:
        self.settings, self.emg_rate_hz = settings, emg_rate_hz
        self.accel_rate_hz, self.n_emg_channels = accel_rate_hz, n_emg_channels
        self.threshold_uv = 50.0
        self.emg_index = 0
        self.accel_index = 0
        self.gap_calls: list[tuple[int, int]] = []
        self.emg_blocks: list[int] = []
        self.accel_sum_g = 0.0
        self._buf: list[float] = []
        self._above = self._below = 0
        self._active = False
        self._onset = self._peak = 0.0
        self._number = self._events = 0
        INSTANCES.append(self)

    def _window(self) -> int:
        return round(self.emg_rate_hz)

    def process(self, emg: FloatArray, accel: FloatArray) -> list[DetectorEvent]:
        assert emg.ndim == 2 and emg.shape[0] == self.n_emg_channels, emg.shape
        assert accel.ndim == 2 and accel.shape[0] == 3, accel.shape
        self.emg_blocks.append(emg.shape[1])
        self.accel_index += accel.shape[1]
        self.accel_sum_g += float(accel.sum())
        out: list[DetectorEvent] = []
        n = self._window()
        for x in emg[0]:
            self._buf.append(float(x))
            self.emg_index += 1
            if len(self._buf) == n:
                rms = float(np.sqrt(np.mean(np.square(self._buf))))
                self._buf.clear()
                out += self._step(rms, self.emg_index / self.emg_rate_hz)
        return out

    def _step(self, rms: float, t_end_of_window: float) -> list[DetectorEvent]:
        ratio = rms / self.threshold_uv
        if not self._active:
            self._above = self._above + 1 if rms > self.threshold_uv else 0
            if self._above == 3:
                self._active, self._number, self._peak = True, self._number + 1, ratio
                self._onset, self._below = t_end_of_window - 3.0, 0
                self._events += 1
                return [
                    DetectorEvent(
                        kind=EventKind.CRAMP_STARTED,
                        cramp_number=self._number,
                        t_onset=self._onset,
                        t_detect=t_end_of_window,
                        intensity=ratio,
                        peak_intensity=ratio,
                    )
                ]
            return []
        self._peak = max(self._peak, ratio)
        self._below = self._below + 1 if rms <= self.threshold_uv else 0
        if self._below < 2:
            return []
        return self._end(t_end_of_window - 2.0, ratio)

    def _end(self, t_end: float, ratio: float) -> list[DetectorEvent]:
        self._active, self._above = False, 0
        self._events += 1
        return [
            DetectorEvent(
                kind=EventKind.CRAMP_ENDED,
                cramp_number=self._number,
                t_onset=self._onset,
                t_detect=t_end,
                t_end=t_end,
                duration_s=t_end - self._onset,
                intensity=ratio,
                peak_intensity=self._peak,
            )
        ]

    def gap(self, emg_samples: int, accel_samples: int) -> list[DetectorEvent]:
        self.gap_calls.append((emg_samples, accel_samples))
        self.emg_index += emg_samples
        self.accel_index += accel_samples
        self._buf.clear()
        self._above = 0
        return []

    def finish(self) -> list[DetectorEvent]:
        return self._end(self.emg_index / self.emg_rate_hz, 0.0) if self._active else []

    def status(self) -> PipelineStatus:
        return PipelineStatus(
            t=self.emg_index / self.emg_rate_hz,
            quality=Quality.GOOD,
            envelope_uv=0.0,
            rest_floor_uv=0.0,
            cramp_active=self._active,
            posture="unknown",
        )

    def statistics(self) -> PipelineStatistics:
        return PipelineStatistics(
            emg_samples=self.emg_index,
            accel_samples=self.accel_index,
            gaps=len(self.gap_calls),
            gap_samples=sum(e for e, _ in self.gap_calls),
            events=self._events,
            cramps=self._number,
            seconds_bad_quality=0.0,
        )


INSTANCES: list[TinyDetector] = []


def tiny(
    *, emg_rate_hz: float, accel_rate_hz: float, n_emg_channels: int, emg_labels: Sequence[str]
) -> TinyDetector:
    return TinyDetector(
        DetectorSettings(),
        emg_rate_hz=emg_rate_hz,
        accel_rate_hz=accel_rate_hz,
        n_emg_channels=n_emg_channels,
    )


# --- test nights ---------------------------------------------------------------------------


def _emg(seconds: float, rate: float, seed: int) -> FloatArray:
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    x = rng.normal(0.0, 5.0, t.size)  # µV rest noise
    for on, off in CRAMPS:
        inside = (t >= on) & (t < off)
        x[inside] += rng.normal(0.0, 200.0, int(inside.sum()))
    return x


def write_night(
    path: Path,
    *,
    seconds: float = NIGHT_S,
    emg_unit: str = "uV",
    accel_unit: str = "g",
    emg_rate: float = EMG_HZ,
    accel: bool = True,
    n_emg: int = 1,
    gap_after_s: float | None = None,
    bdf: bool = False,
) -> None:
    emg_scale = {"uV": 1.0, "mV": 1e-3, "V": 1e-6}[emg_unit]
    acc_scale = {"g": 1.0, "m/s2": STANDARD_GRAVITY}[accel_unit]
    emg_range = 5000.0 * emg_scale
    specs = [
        EdfSignalSpec(f"EMG calf {k}", emg_unit, emg_rate, -emg_range, emg_range)
        for k in range(n_emg)
    ]
    if accel:
        specs += [
            EdfSignalSpec(f"Accel {a}", accel_unit, ACC_HZ, -8 * acc_scale, 8 * acc_scale)
            for a in "XYZ"
        ]
    emgs = [_emg(seconds, emg_rate, seed=k) * emg_scale for k in range(n_emg)]
    g = np.zeros(round(seconds * ACC_HZ))
    accs = [g + 0.1 * acc_scale, g, g + 1.0 * acc_scale]  # lying still, gravity on Z
    with EdfWriter(path, specs, start=START, bdf=bdf) as w:
        if gap_after_s is None:
            w.write(emgs + (accs if accel else []))
        else:
            ke, ka = round(gap_after_s * emg_rate), round(gap_after_s * ACC_HZ)
            w.write([e[:ke] for e in emgs] + ([a[:ka] for a in accs] if accel else []))
            w.skip(30.0)
            w.write([e[ke:] for e in emgs] + ([a[ka:] for a in accs] if accel else []))


def write_truth(path: Path, seconds: float = NIGHT_S, leg: str = "right") -> None:
    path.write_text(
        json.dumps(
            {
                "format": "crampwatch-truth/1",
                "seed": 1,
                "profile": "test",
                "duration_s": seconds,
                "start": START.isoformat(),
                "subject": {"leg": leg},
                "cramps": [{"onset_s": a, "end_s": b, "level": 3.0} for a, b in CRAMPS],
                "short_cramps": [],
                "confounders": [],
                "bad_signal": [],
            }
        )
    )


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "night.edf"
    write_night(path)
    return path


def _starts(result: ReplayResult) -> list[tuple[float, float]]:
    return [(e.t_onset, e.t_detect or 0.0) for e in result.events if e.kind == "cramp_started"]


# --- library -------------------------------------------------------------------------------


def test_replay_finds_the_bursts(night: Path) -> None:
    seen: list[EventRecord] = []
    result = replay_file(night, make_detector=tiny, leg="left", on_event=seen.append)
    assert seen == result.events
    assert _starts(result) == [(60.0, 63.0), (180.0, 183.0)]
    ends = [(e.t_end, e.duration_s) for e in result.events if e.kind == "cramp_ended"]
    assert ends == [(95.0, 35.0), (200.0, 20.0)]
    assert result.session_id == "night-20261126T223000"
    assert result.events[0].event_id == "night-20261126T223000:left:1:started"
    assert result.events[0].time == "2026-11-26T22:31:03.000+00:00"
    assert result.duration_s == NIGHT_S and result.gaps == 0
    det = INSTANCES[-1]
    assert det.emg_blocks == [30_000] * 5  # 60-s blocks at 500 Hz
    assert det.accel_index == NIGHT_S * ACC_HZ
    assert det.accel_sum_g == pytest.approx(1.1 * NIGHT_S * ACC_HZ, rel=1e-3)


@pytest.mark.parametrize(
    ("emg_unit", "accel_unit", "bdf"),
    [("mV", "m/s2", False), ("V", "g", True), ("uV", "m/s2", True)],
)
def test_units_are_honoured(
    tmp_path: Path, night: Path, emg_unit: str, accel_unit: str, bdf: bool
) -> None:
    path = tmp_path / ("scaled.bdf" if bdf else "scaled.edf")
    write_night(path, emg_unit=emg_unit, accel_unit=accel_unit, bdf=bdf)
    scaled = replay_file(path, make_detector=tiny, leg="left")
    det = INSTANCES[-1]
    base = replay_file(night, make_detector=tiny, leg="left")
    assert _starts(scaled) == _starts(base)
    assert det.accel_sum_g == pytest.approx(1.1 * NIGHT_S * ACC_HZ, rel=1e-3)


def test_block_size_does_not_change_events(night: Path) -> None:
    a = replay_file(night, make_detector=tiny, leg="left", block_s=7.0)
    b = replay_file(night, make_detector=tiny, leg="left", block_s=3600.0)
    assert a.events == b.events and _starts(a) == [(60.0, 63.0), (180.0, 183.0)]


def test_edf_plus_d_gap_goes_to_detector(tmp_path: Path) -> None:
    path = tmp_path / "gappy.edf"
    write_night(path, gap_after_s=120.0)  # 30 s of nothing after 120 s of data
    result = replay_file(path, make_detector=tiny, leg="left")
    det = INSTANCES[-1]
    assert det.gap_calls == [(30 * 500, 30 * 25)]
    assert result.gaps == 1 and result.duration_s == NIGHT_S + 30.0
    # the second burst was recorded at 180 s of data, i.e. 210 s of stream time
    assert _starts(result) == [(60.0, 63.0), (210.0, 213.0)]


def test_overlapping_edf_plus_d_records_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "overlap.edf"
    write_night(path, seconds=6.0, gap_after_s=3.0)  # records at 0, 1, 2, then 33, 34, 35 s
    raw = path.read_bytes()
    assert raw.count(b"+33\x14\x14") == 1
    path.write_bytes(raw.replace(b"+33\x14\x14", b"+01\x14\x14"))  # record 3 now at 1 s
    with pytest.raises(InputError, match=r"record 3 starts at 1\.000 s, before the end"):
        replay_file(path, make_detector=tiny, leg="left")


def test_emg_only_declares_accel_lost(tmp_path: Path) -> None:
    path = tmp_path / "emg_only.edf"
    write_night(path, accel=False)
    result = replay_file(path, make_detector=tiny, leg="left")
    det = INSTANCES[-1]
    assert _starts(result) == [(60.0, 63.0), (180.0, 183.0)]
    assert det.accel_sum_g == 0.0  # no zeros were fed: every accel block was empty
    assert all(e == 0 for e, _ in det.gap_calls)
    assert sum(a for _, a in det.gap_calls) == NIGHT_S * 50  # nominal 50 Hz, declared lost
    assert result.channels.accel is None


def test_channel_selection_by_label(tmp_path: Path) -> None:
    path = tmp_path / "two.edf"
    write_night(path, n_emg=2)
    reader = EdfReader(path)
    both = select_channels(reader)
    assert both.emg_labels == ("EMG calf 0", "EMG calf 1")
    assert both.accel_labels == ("Accel X", "Accel Y", "Accel Z")
    one = select_channels(
        reader, emg_labels=["EMG calf 1"], accel_labels=["Accel Z", "Accel Y", "Accel X"]
    )
    assert one.emg == (1,) and one.accel == (4, 3, 2)
    with pytest.raises(InputError, match="no EMG channel labelled 'EMG shin'"):
        select_channels(reader, emg_labels=["EMG shin"])


def test_slow_emg_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "slow.edf"
    write_night(path, emg_rate=250.0, seconds=20.0)
    with pytest.raises(InputError, match="250 Hz, below the 400 Hz"):
        replay_file(path, make_detector=tiny, leg="left")


def test_memory_does_not_grow_with_length(tmp_path: Path) -> None:
    short, long = tmp_path / "short.edf", tmp_path / "long.edf"
    write_night(short, seconds=300.0)
    write_night(long, seconds=1200.0)
    peaks = []
    for path in (short, long):
        tracemalloc.start()
        replay_file(path, make_detector=_quiet, leg="left")
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.2 * peaks[0], peaks  # 4× the file, about the same peak (one block)


class _Quiet(TinyDetector):
    def process(self, emg: FloatArray, accel: FloatArray) -> list[DetectorEvent]:
        return []  # no per-sample Python loop: this test measures replay's own memory


def _quiet(
    *, emg_rate_hz: float, accel_rate_hz: float, n_emg_channels: int, emg_labels: Sequence[str]
) -> TinyDetector:
    return _Quiet(
        DetectorSettings(),
        emg_rate_hz=emg_rate_hz,
        accel_rate_hz=accel_rate_hz,
        n_emg_channels=n_emg_channels,
    )


def test_plot(tmp_path: Path, night: Path) -> None:
    truth = tmp_path / "t.json"
    write_truth(truth)
    result = replay_file(night, make_detector=tiny, leg="left", overview=True)
    assert result.overview is not None and len(result.overview.emg_rms_uv) == NIGHT_S
    out = tmp_path / "n.png"
    plot_replay(result, out, json.loads(truth.read_text()))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


# --- the command line ----------------------------------------------------------------------
# A few runs in a real subprocess (exit codes, stdout/stderr, terminal, pipe); the rest call
# bedside.cli.main in-process: every `python -m bedside.cli` imports all subcommands (scipy,
# bumble), which costs seconds on a loaded machine.

DETECTOR = "tests.bedside.test_replay:TinyDetector"


def crampwatch(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bedside.cli", "replay", "--detector", DETECTOR, *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@dataclass
class CliRun:
    code: int
    out: str
    err: str  # what the CLI printed to stderr (error line, table)
    log: str  # log records (pytest captures logging in-process)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Any:
    def run(*args: str | Path, detector: str = DETECTOR) -> CliRun:
        capsys.readouterr()
        caplog.clear()
        with caplog.at_level(logging.INFO):
            code = main(["replay", "--detector", detector, *map(str, args)])
        out, err = capsys.readouterr()
        return CliRun(code, out, err, caplog.text)

    return run


def test_subprocess_events_to_stdout_and_table(tmp_path: Path, night: Path) -> None:
    truth = tmp_path / "night.truth.json"
    write_truth(truth, leg="right")
    proc = crampwatch(night, "--truth", truth)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e["event"] for e in events] == ["cramp_started", "cramp_ended"] * 2
    assert events[0]["leg"] == "right"  # from the truth's subject
    assert "sens" in proc.stderr and "100.0%" in proc.stderr  # the scorer's table, on stderr
    assert "2 cramps, 4 events" in proc.stderr
    assert "\r" not in proc.stderr  # no progress bar: stderr is not a terminal


def test_subprocess_bad_input_one_line_exit_65(tmp_path: Path) -> None:
    path = tmp_path / "bad.edf"
    path.write_bytes(b"garbage" * 10)
    proc = crampwatch(path)
    assert proc.returncode == 65 and proc.stdout == ""
    # one line: with no configuration file the built-ins are said only at DEBUG
    assert proc.stderr.splitlines() == [
        f"crampwatch: {path}: not an EDF/BDF file: 70 bytes, shorter than the 256-byte header"]


def test_subprocess_progress_bar_on_a_terminal(night: Path) -> None:
    main_fd, sub_fd = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "bedside.cli", "replay", "--detector", DETECTOR, str(night)]
    with subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=sub_fd) as proc:
        os.close(sub_fd)
        out, _ = proc.communicate(timeout=120)
    seen = b""
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:  # EIO once the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(main_fd)
    assert proc.returncode == 0 and len(out.splitlines()) == 4
    assert b"\rnight.edf [" in seen and b"100%" in seen


def test_subprocess_broken_pipe_is_quiet(night: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "bedside.cli", "replay", "--detector", DETECTOR, str(night)]
    with subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # like `| head -0`: the first event cannot be written
        err = proc.stderr.read().decode()
        proc.wait(timeout=120)
    assert proc.returncode == 141 and "Traceback" not in err


def test_cli_several_inputs_events_file_and_plot(cli: Any, tmp_path: Path, night: Path) -> None:
    other = tmp_path / "other.edf"
    write_night(other, emg_unit="mV")
    t1, t2 = tmp_path / "a.truth.json", tmp_path / "b.truth.json"
    write_truth(t1)
    write_truth(t2)
    out, plot = tmp_path / "ev.jsonl", tmp_path / "p.png"
    r = cli(night, other, "--events", out, "--truth", t1, "--truth", t2, "--plot", plot)
    assert r.code == 0, r.err
    assert "all (2)" in r.out  # table on stdout: the events went to a file
    events = [json.loads(line) for line in out.read_text().splitlines()]
    sessions = {e["event_id"].split(":")[0] for e in events}
    assert sessions == {"night-20261126T223000", "other-20261126T223000"}
    assert {e["leg"] for e in events} == {"right"}
    assert (tmp_path / "p-night.png").exists() and (tmp_path / "p-other.png").exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: write_night(p, emg_rate=200.0, seconds=10.0), "below the 400 Hz"),
        (lambda p: p.write_bytes(b""), "shorter than the 256-byte header"),
        (lambda p: p.mkdir(), "is a directory"),
    ],
)
def test_cli_bad_input_one_line_exit_65(cli: Any, tmp_path: Path, make: Any, message: str) -> None:
    path = tmp_path / "bad.edf"
    make(path)
    r = cli(path)
    assert r.code == 65 and r.out == ""
    assert message in r.err and len(r.err.strip().splitlines()) == 1


def test_cli_no_emg_and_missing_file(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "noemg.edf"
    specs = [EdfSignalSpec("Accel X", "g", 25.0, -8, 8)]
    with EdfWriter(path, specs, start=START) as w:
        w.write([np.zeros(250)])
    r = cli(path)
    assert r.code == 65 and "no EMG channel" in r.err and "'Accel X'" in r.err
    r = cli(tmp_path / "missing.edf")
    assert r.code == 65 and "no such file" in r.err


def test_cli_truncated_file_warns_and_replays(cli: Any, tmp_path: Path, night: Path) -> None:
    cut = tmp_path / "cut.edf"
    raw = night.read_bytes()
    cut.write_bytes(raw[: len(raw) * 3 // 4])
    r = cli(cut)
    assert r.code == 0, r.err
    assert r.log.count("edf: truncated: header declares 300") == 1
    assert len(r.out.splitlines()) == 4  # both bursts lie in the first 3/4


def test_cli_inputs_are_checked_before_replay(cli: Any, tmp_path: Path, night: Path) -> None:
    truth = tmp_path / "long.truth.json"
    write_truth(truth, seconds=28800.0)
    r = cli(night, "--truth", truth)
    assert r.code == 65 and r.out == ""
    assert "mismatched durations" in r.err
    r = cli(night, night, "--truth", truth)
    assert r.code == 65 and "give one per INPUT" in r.err
    bad = tmp_path / "bad.edf"
    bad.write_bytes(b"0" * 300)
    r = cli(night, bad)  # the good first file is not replayed: nothing on stdout
    assert r.code == 65 and r.out == "" and str(bad) in r.err


def test_cli_unknown_detector_is_a_config_error(cli: Any, night: Path) -> None:
    r = cli(night, detector="nope.mod:X")
    assert r.code == 78 and "cannot import nope" in r.err


def test_cli_emg_named_by_option(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "named.edf"
    specs = [EdfSignalSpec("Gastroc L", "uV", EMG_HZ, -5000, 5000)]
    with EdfWriter(path, specs, start=START) as w:
        w.write([_emg(NIGHT_S, EMG_HZ, seed=0)])
    assert "no EMG channel" in cli(path).err
    r = cli("--emg", "Gastroc L", path)
    assert r.code == 0, r.err
    assert len(r.out.splitlines()) == 4
    assert r.log.count("replaying EMG only") == 1  # checked up front, warned once
    # the production pipeline counts the blind seconds, and the summary says so
    r = cli("--emg", "Gastroc L", path, detector="detector.pipeline:Pipeline")
    assert r.code == 0, r.err
    assert "s without accelerometer data (blind)" in r.log


class _LabelledDetector(TinyDetector):
    def __init__(
        self,
        settings: DetectorSettings,
        *,
        emg_rate_hz: float,
        accel_rate_hz: float,
        n_emg_channels: int,
        emg_labels: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            settings,
            emg_rate_hz=emg_rate_hz,
            accel_rate_hz=accel_rate_hz,
            n_emg_channels=n_emg_channels,
        )
        self.labels = emg_labels
        if accel_rate_hz < 10:
            raise ValueError(f"accel rate {accel_rate_hz} Hz is too low")


def test_load_detector_passes_labels_only_to_those_that_take_them(tmp_path: Path) -> None:
    path = tmp_path / "two.edf"
    write_night(path, n_emg=2, seconds=10.0)
    settings = DetectorSettings(min_emg_rate_hz=450.0)
    labelled = detector_factory(settings, spec="tests.bedside.test_replay:_LabelledDetector")
    replay_file(path, make_detector=labelled, leg="left")
    det = INSTANCES[-1]
    assert isinstance(det, _LabelledDetector) and det.labels == ("EMG calf 0", "EMG calf 1")
    assert det.settings is settings
    plain = detector_factory(settings, spec="tests.bedside.test_replay:TinyDetector")
    replay_file(path, make_detector=plain, leg="left")
    assert type(INSTANCES[-1]) is TinyDetector


def test_detector_value_error_becomes_input_error(tmp_path: Path) -> None:
    path = tmp_path / "slow_accel.edf"
    specs = [EdfSignalSpec("EMG", "uV", EMG_HZ, -5000, 5000)] + [
        EdfSignalSpec(f"Acc {a}", "g", 5.0, -8, 8) for a in "XYZ"
    ]
    with EdfWriter(path, specs, start=START) as w:
        w.write([np.zeros(5000), np.zeros(50), np.zeros(50), np.zeros(50)])
    make = detector_factory(DetectorSettings(), spec="tests.bedside.test_replay:_LabelledDetector")
    with pytest.raises(InputError, match=r"the detector refuses it: accel rate 5\.0 Hz is too low"):
        replay_file(path, make_detector=make, leg="left")


def test_cli_with_the_real_pipeline(cli: Any, tmp_path: Path, night: Path) -> None:
    """Integration: the default detector accepts what replay gives it; output is event JSONL."""
    r = cli(night, "--leg", "right", detector="detector.pipeline:Pipeline")
    assert r.code == 0, r.err
    for line in r.out.splitlines():
        event = json.loads(line)
        assert event["event"] in {"cramp_started", "cramp_update", "cramp_ended"}
        assert event["event_id"].startswith("night-20261126T223000:right:")
    assert "night-20261126T223000: 0.08 h" in r.log  # the summary line, 300 s
