"""Night and history reports: the tracer leaves events unchanged, the figure has its panels and
the right cramps, the PNG and HTML are written, history counts nights, and the daemon hook."""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bedside.cli import main
from bedside.offline.replay import replay_night
from bedside.offline.report import (
    HISTORY_PANELS,
    NIGHT_PANELS,
    NightData,
    NightTrace,
    Tracer,
    _night_key,
    history,
    history_figure,
    load_night,
    night_figure,
    night_html,
    write_night_report,
)
from bedside.prompt.reminder import AdherenceLog
from bedside.stream.records import EventRecord, dumps
from detector.pipeline import Pipeline
from detector.settings import DetectorSettings
from detector.types import PipelineStatistics
from firmware_bridge.simulation import plan_night, render_chunks, write_night


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    plan = plan_night(seed=1, hours=0.5, profile="dense")  # one cramp, some bad signal
    return write_night(plan, tmp_path_factory.mktemp("report") / "night.edf")


def test_tracer_keeps_the_events_and_samples_every_piece() -> None:
    plan = plan_night(seed=2, hours=0.25, profile="dense")
    kw: dict[str, Any] = {"emg_rate_hz": plan.emg_rate_hz, "accel_rate_hz": plan.accel_rate_hz,
                          "n_emg_channels": len(plan.emg_labels)}
    plain = Pipeline(DetectorSettings(), **kw)
    traced = Tracer(Pipeline(DetectorSettings(), **kw), emg_rate_hz=plan.emg_rate_hz,
                    accel_rate_hz=plan.accel_rate_hz, trace_s=7.0)
    a: list[Any] = []
    b: list[Any] = []
    for i, (emg, accel) in enumerate(render_chunks(plan, chunk_s=45.0)):
        a += plain.process(emg, accel)
        b += traced.process(emg, accel)
        if i == 3:  # a gap goes through and is recorded
            a += plain.gap(1000, 50)
            b += traced.gap(1000, 50)
    a += plain.finish()
    b += traced.finish()
    assert a == b and any(e.kind == "cramp_started" for e in a)
    tr = traced.trace
    total_s = plan.duration_s + 1000 / plan.emg_rate_hz
    assert len(tr.t_s) == int(total_s // 7.0)
    assert np.allclose(np.diff(tr.t_s), 7.0)
    assert tr.gaps == [(180.0, 180.0 + 1000 / plan.emg_rate_hz)]
    assert set(tr.quality) <= {"good", "no_signal", "lead_off", "hum", "noisy"}
    assert np.nanmedian(tr.floor_uv) > 0 and np.nanmedian(tr.activity_g) < 0.05


def test_night_figure_panels_and_cramps(night: Path) -> None:
    data = load_night(night)
    truth = json.loads(night.with_suffix(".truth.json").read_text())
    fig = night_figure(data)
    try:
        titles = [ax.get_title(loc="left") for ax in fig.axes]
        assert [t.split(":")[0] for t in titles] == list(NIGHT_PANELS)
        assert "1 cramp(s)" in fig._suptitle.get_text()
        ax_e = fig.axes[0]
        lines = {ln.get_label(): ln for ln in ax_e.get_lines()}
        assert {"EMG envelope", "rest floor"} <= set(lines)
        env = np.asarray(lines["EMG envelope"].get_ydata(), dtype=float)
        floor = np.asarray(lines["rest floor"].get_ydata(), dtype=float)
        assert np.nanmedian(env / floor) == pytest.approx(1.0, abs=0.5)  # at rest ≈ the floor
        # the cramp's shading sits on the simulated cramp
        spans = [p for p in ax_e.patches]
        cramp = truth["cramps"][0]
        assert any(
            abs(p.get_x() - cramp["onset_s"] / 3600) < 30 / 3600 for p in spans
        ), "no shaded cramp at the simulated onset"
        # the quality strip covers the night without holes
        covered = sum(p.get_paths()[0].get_extents().width for p in fig.axes[1].collections)
        assert covered == pytest.approx(data.duration_s / 3600, rel=1e-3)
    finally:
        plt.close(fig)


def test_report_cli_png_and_html(night: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    start = datetime.fromisoformat(json.loads(night.with_suffix(".truth.json").read_text())
                                   ["start"])
    log = AdherenceLog(state / "adherence.jsonl")
    log.append("reminded", start.astimezone() - timedelta(minutes=30))
    log.append("done", start.astimezone() - timedelta(minutes=20))
    out = tmp_path / "n.html"
    assert main(["report", str(night), "-o", str(out), "--state-dir", str(state)]) == 0
    png = out.with_suffix(".png")
    img = plt.imread(png)
    assert img.shape[:2] == (675, 1080) and png.stat().st_size < 300_000
    assert img[..., :3].std() > 0.1  # not a blank canvas
    page = out.read_text(encoding="utf-8")
    assert 'src="n.png"' in page and '<table id="cramps">' in page
    assert page.count("<tr><td>") == 1  # the one cramp
    assert "bedtime stretch done" in page
    assert main(["report", str(night), "-o", str(tmp_path / "x.txt")]) == 65
    assert main(["report", "-o", str(tmp_path / "x.png")]) == 65


def test_report_with_daemon_events(night: Path, tmp_path: Path) -> None:
    events = replay_night(night, DetectorSettings()).events
    other = [dataclasses.replace(e, event_id="other-session:" + e.event_id) for e in events]
    data = load_night(night, events=other + events)
    assert data.events == events  # cut to this recording's session
    page = night_html(data, "x.png")
    assert page.count("<tr><td>") == 1


def _history_events(nights: list[tuple[date, int]]) -> list[dict[str, Any]]:
    out = []
    for day, n in nights:
        for k in range(n):
            when = datetime.combine(day, datetime.min.time()) + timedelta(hours=23, minutes=k)
            t = when.astimezone(UTC).isoformat()
            sid = f"s{day:%m%d}:left:{k + 1}"
            out.append({"event": "cramp_started", "event_id": f"{sid}:started", "time": t,
                        "leg": "left", "t_onset": 1.0, "t_detect": 5.0, "intensity": 3.0})
            out.append({"event": "cramp_ended", "event_id": f"{sid}:ended", "time": t,
                        "leg": "left", "t_onset": 1.0, "t_end": 61.0, "duration_s": 60.0,
                        "intensity": 3.0})
    return out


def test_history_counts_and_adherence(tmp_path: Path) -> None:
    d0 = date(2026, 11, 20)
    events = _history_events([(d0, 2), (d0 + timedelta(days=2), 1)])
    events.append(events[0])  # a duplicate line (replayed) is counted once
    log = AdherenceLog(tmp_path / "adherence.jsonl")
    log.append("done", datetime.combine(d0 + timedelta(days=1), datetime.min.time())
               + timedelta(hours=22))
    nights = history([EventRecord.from_json(e) for e in events], log, until=d0 + timedelta(days=3),
                     days=4)
    assert [(n.night[-2:], n.cramps, n.cramp_minutes, n.stretched) for n in nights] == [
        ("20", 2, 2.0, False), ("21", 0, 0.0, True), ("22", 1, 1.0, False),
        ("23", 0, 0.0, False)]
    fig = history_figure(nights, adherence_known=True)
    try:
        assert [ax.get_title(loc="left") for ax in fig.axes] == list(HISTORY_PANELS)
        heights = [p.get_height() for p in fig.axes[0].patches]
        assert heights == [2, 0, 1, 0]
        assert "stretched on 25% of nights" in fig._suptitle.get_text()
    finally:
        plt.close(fig)


def test_history_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    state.mkdir()
    d0 = date(2026, 11, 20)
    lines = [json.dumps(e) for e in _history_events([(d0, 3)])] + ["garbage"]
    (state / "events.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "trend.png"
    assert main(["report", "--history", str(state), "--days", "7", "--until", "2026-11-22",
                 "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2026-11-20      3      3.0" in text
    assert out.exists() and out.stat().st_size > 10_000
    assert main(["report", "--history", str(tmp_path / "none")]) == 65
    assert main(["report", "--history", str(state), "--until", "soon"]) == 65


def test_write_night_report_for_the_daemon(night: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    events = replay_night(night, DetectorSettings()).events
    (state / "events.jsonl").write_text("\n".join(dumps(e) for e in events) + "\n")
    summary = {"night": _night_key(events[0]), "cramps": 1}
    png = write_night_report(state, summary, night)
    assert png is not None and png.exists() and png.with_suffix(".html").exists()
    assert png.parent == state / "reports"
    # no recording: an events-only page, still with the cramp
    png2 = write_night_report(state, summary, None)
    assert png2 is not None
    assert png2.with_suffix(".html").read_text().count("<tr><td>") == 1
    # a broken state dir is logged, never raised
    assert write_night_report(state / "missing" / "x", {"night": "bad"}, None) is None


def _pipeline_statistics(seed: int, hours: float) -> PipelineStatistics:
    plan = plan_night(seed=seed, hours=hours, profile="dense")
    pipe = Pipeline(DetectorSettings(), emg_rate_hz=plan.emg_rate_hz,
                    accel_rate_hz=plan.accel_rate_hz, n_emg_channels=len(plan.emg_labels))
    for emg, accel in render_chunks(plan, chunk_s=60.0):
        pipe.process(emg, accel)
    pipe.finish()
    return pipe.statistics()


def test_quality_header_agrees_with_the_pipeline_count(night: Path) -> None:
    """The night fixture has a few seconds of bad signal, too short for the 10-s samples."""
    bad = _pipeline_statistics(seed=1, hours=0.5).seconds_bad_quality
    assert 0 < bad < 30
    data = load_night(night)
    fig = night_figure(data)
    try:
        title = fig.axes[1].get_title(loc="left")
    finally:
        plt.close(fig)
    good = 100 * (1 - bad / data.duration_s)
    assert f"({bad:.1f} s bad signal or gaps)" in title
    assert f"{int(good * 10) / 10:.1f} % good" in title and "100" not in title


def _labelled_ticks(fig: Any) -> list[Any]:
    """The EMG axis's visible y tick labels with text, after drawing."""
    fig.canvas.draw()
    ax = fig.axes[0]
    lo, hi = ax.get_ylim()
    ticks = ax.yaxis.get_major_ticks() + ax.yaxis.get_minor_ticks()
    return [t.label1 for t in ticks
            if t.label1.get_visible() and t.label1.get_text() and lo <= t.get_loc() <= hi]


def _trace(envelope: list[float], floor: float) -> NightTrace:
    n = len(envelope)
    return NightTrace(t_s=[10.0 * (i + 1) for i in range(n)], envelope_uv=envelope,
                      floor_uv=[floor] * n, quality=["good"] * n, posture=["lying"] * n,
                      activity_g=[0.001] * n, gravity_g=[(0.0, 0.0, 1.0)] * n,
                      seconds_bad_quality=0.0)


@pytest.mark.parametrize(
    "envelope",
    [[1.0, 1.6, 1.2, 1.4], [0.8, 3.0, 200.0, 1.1], [0.5, 40_000.0, 2.0, 1.0]],
    ids=["within a decade", "a few decades", "many decades"],
)
def test_log_emg_axis_has_readable_labels(envelope: list[float]) -> None:
    data = NightData(name="x", start=datetime(2026, 11, 26, 22, 0), duration_s=40.0,
                     events=[], trace=_trace(envelope, 1.0), verdicts={})
    fig = night_figure(data)
    try:
        labels = _labelled_ticks(fig)
        texts = [lab.get_text() for lab in labels]
        values = sorted(float(t) for t in texts)  # plain numbers: no 2×10⁰ mathtext
        assert 3 <= len(values) <= 12, texts
        lo, hi = fig.axes[0].get_ylim()
        # neighbouring labels at most 1-2-5 steps apart, decades over a very wide range
        step = 10.0 if hi / lo > 10**3.5 else 2.5
        assert max(b / a for a, b in itertools.pairwise(values)) <= step, texts
        assert min(values) <= lo * step and max(values) >= hi / step  # both ends labelled
        boxes = sorted((lab.get_window_extent() for lab in labels), key=lambda b: b.y0)
        for below, above in itertools.pairwise(boxes):
            assert below.y1 <= above.y0, f"labels overlap: {texts}"
    finally:
        plt.close(fig)


@pytest.fixture
def kolkata(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time UTC+05:30 (no daylight saving), so local and UTC clocks differ."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_report_shows_local_time(night: Path, kolkata: None) -> None:
    """An EDF start (no zone) is UTC, as for replay's event times; the report shows local."""
    utc_start = datetime.fromisoformat(json.loads(night.with_suffix(".truth.json").read_text())
                                       ["start"]).replace(tzinfo=UTC)
    local_start = utc_start.astimezone().replace(tzinfo=None)
    assert local_start - utc_start.replace(tzinfo=None) == timedelta(hours=5, minutes=30)
    data = load_night(night)
    assert data.start == local_start
    (cramp,) = [e for e in data.events if e.kind == "cramp_started"]
    event_local = datetime.fromisoformat(cramp.time).astimezone()  # replay's own time
    page = night_html(data, "x.png")
    onset_local = event_local - timedelta(seconds=(cramp.t_detect or 0.0) - cramp.t_onset)
    assert f"<td>{onset_local:%H:%M:%S}</td>" in page
    fig = night_figure(data)
    try:
        assert f"{local_start:%H:%M}" in fig.axes[-1].get_xlabel()  # the bottom panel
    finally:
        plt.close(fig)
