"""Labels: the format, its conversion to truth (checked through the real scorer), wall time →
stream time, the daemon's labels.jsonl, EDF+ annotations and ``crampwatch label``."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bedside.cli import main
from bedside.offline.labels import (
    DEFAULT_TOLERANCE_S,
    Detection,
    Label,
    NightLabels,
    apply_labels,
    detections_from_events,
    import_daemon_labels,
    labels_path,
    load_truth,
    read_labels,
    stream_time_of,
    truth_for,
    truth_from_annotations,
    write_labels,
)
from bedside.offline.scoring import aggregate, parse_truth, score_night
from bedside.offline.truth import score_files
from bedside.stream.records import EventRecord
from firmware_bridge.errors import InputError
from firmware_bridge.simulation import plan_night, write_night

START = datetime(2026, 11, 26, 22, 30)


def _events(*spans: tuple[int, float, float, float]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n, onset, detect, end in spans:
        out.append({"event": "cramp_started", "event_id": f"s:left:{n}:started", "leg": "left",
                    "t_onset": onset, "t_detect": detect, "time": "x", "intensity": 3.0})
        out.append({"event": "cramp_ended", "event_id": f"s:left:{n}:ended", "leg": "left",
                    "t_onset": onset, "t_end": end, "duration_s": end - onset, "time": "x",
                    "intensity": 3.0, "peak_intensity": 4.0})
    return out


def _typed(events: list[dict[str, Any]]) -> list[EventRecord]:
    return [EventRecord.from_json(e) for e in events]


EVENTS = _events((1, 100.0, 106.0, 130.0), (2, 1000.0, 1006.0, 1090.0), (3, 2000.0, 2006.0, 2050.0))


def _night() -> NightLabels:
    return NightLabels(recording="n.edf", start=START, duration_s=3600.0,
                       detections=detections_from_events(_typed(EVENTS)))


def test_detections_from_events_pairs_start_and_end() -> None:
    d = detections_from_events(_typed(EVENTS))
    assert [(x.event_id, x.t_onset, x.t_detect, x.t_end) for x in d] == [
        ("s:left:1:started", 100.0, 106.0, 130.0),
        ("s:left:2:started", 1000.0, 1006.0, 1090.0),
        ("s:left:3:started", 2000.0, 2006.0, 2050.0),
    ]


def test_user_labels_become_truth_the_scorer_reads() -> None:
    night = _night()
    assert night.add(Label(kind="not_cramp", event_id="s:left:1:ended"))  # any id of the cramp
    assert night.add(Label(kind="cramp", event_id="s:left:2"))
    assert night.add(Label(kind="cramp", t_s=3000.0))  # "around 23:20", nothing detected
    assert not night.add(Label(kind="cramp", event_id="s:left:2:started"))  # duplicate
    truth = apply_labels(None, night)
    parse_truth(truth)  # the scorer accepts it
    score = score_night(truth, EVENTS).metrics
    # #1 denied: a false alarm on a "not_cramp" span; #2 confirmed: a hit; #3 unlabelled:
    # neutral; the cramp around t=3000 s was missed
    assert (score.cramps, score.hits, score.false_alarms, score.neutral) == (2, 1, 1, 1)
    assert score.false_alarms_by_cause == {"not_cramp": 1}
    approx = [c for c in truth["cramps"] if c.get("approximate")]
    assert approx == [{"onset_s": 3000.0 - DEFAULT_TOLERANCE_S, "end_s": 3000.0
                       + DEFAULT_TOLERANCE_S, "level": 0.0, "approximate": True,
                       "source": "user"}]
    # a detection anywhere in the ±10 min window would have been a hit
    assert score_night(truth, _events((9, 3300.0, 3400.0, 3460.0))).metrics.hits == 1


def test_a_verdict_replaces_the_earlier_one() -> None:
    night = _night()
    night.add(Label(kind="not_cramp", event_id="s:left:1:started"))
    night.add(Label(kind="cramp", event_id="s:left:1:started"))
    assert [x.kind for x in night.labels] == ["cramp"]


def test_not_cramp_overrides_a_complete_truth() -> None:
    truth: dict[str, Any] = {"format": "crampwatch-truth/1", "duration_s": 3600.0,
             "cramps": [{"onset_s": 99.0, "end_s": 131.0, "level": 3.0},
                        {"onset_s": 1000.0, "end_s": 1080.0, "level": 3.0}],
             "short_cramps": [], "confounders": [], "bad_signal": []}
    night = _night()
    night.add(Label(kind="not_cramp", event_id="s:left:1"))
    merged = apply_labels(truth, night)
    assert [c["onset_s"] for c in merged["cramps"]] == [1000.0]
    assert merged["short_cramps"] == []  # a complete truth: unlabelled #3 stays a false alarm
    assert truth["cramps"][0]["onset_s"] == 99.0  # input untouched
    m = score_night(merged, EVENTS).metrics
    assert (m.hits, m.false_alarms) == (1, 2)


def test_round_trip_and_bad_file(tmp_path: Path) -> None:
    night = _night()
    night.add(Label(kind="cramp", t_s=1234.5, tolerance_s=300.0, source="user", added="now"))
    night.add(Label(kind="not_cramp", event_id="s:left:3:started", source="mqtt"))
    path = tmp_path / "n.labels.json"
    write_labels(path, night)
    back = read_labels(path)
    assert back is not None and back.as_json() == night.as_json()
    assert read_labels(tmp_path / "missing.labels.json") is None
    path.write_text(json.dumps({"format": "crampwatch-labels/1", "start": "2026-11-26T22:30:00",
                                "duration_s": 10, "labels": [{"kind": "maybe", "t_s": 1}]}))
    with pytest.raises(InputError, match=r"labels\[0\]: 'kind'"):
        read_labels(path)
    path.write_text("{")
    with pytest.raises(InputError, match="not JSON"):
        read_labels(path)


def test_wall_time_to_stream_time() -> None:
    assert stream_time_of("03:10", START, 8 * 3600.0) == 4 * 3600 + 40 * 60
    assert stream_time_of("22:45:30", START, 8 * 3600.0) == 15 * 60 + 30
    aware = datetime.fromisoformat("2026-11-26T22:30:00+00:00")
    local = aware.astimezone().replace(tzinfo=None)
    assert stream_time_of(f"{local:%H:%M}", aware, 3600.0) == 0.0
    with pytest.raises(InputError, match="not in it"):
        stream_time_of("12:00", START, 8 * 3600.0)
    with pytest.raises(InputError, match="HH:MM"):
        stream_time_of("3 am", START, 8 * 3600.0)


def test_daemon_labels_jsonl_is_imported(tmp_path: Path) -> None:
    jsonl = tmp_path / "labels.jsonl"
    lines = [
        # exactly what bedside.live.daemon.Daemon._append_label writes
        {"label": "false_alarm", "event_id": "s:left:2:started", "time": "2026-11-27T00:10:00"},
        {"label": "false_alarm", "event_id": "other:left:1:started", "time": "x"},
        {"label": "false_alarm", "event_id": None, "time": "x"},
    ]
    jsonl.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    night = _night()
    assert import_daemon_labels(night, jsonl) == (1, 1)
    assert [(x.kind, x.event_id, x.source) for x in night.labels] == [
        ("not_cramp", "s:left:2:started", "mqtt")
    ]
    assert import_daemon_labels(night, jsonl) == (0, 1)  # idempotent
    assert import_daemon_labels(night, tmp_path / "none.jsonl") == (0, 0)


def test_annotations_to_truth() -> None:
    truth = truth_from_annotations(
        [(10.0, 30.0, "Cramp"), (50.0, 4.0, "cramp"), (60.0, 20.0, "not a cramp"),
         (90.0, 5.0, "arousal")],
        600.0,
        START,
    )
    assert truth is not None
    parse_truth(truth)
    assert [(c["onset_s"], c["end_s"]) for c in truth["cramps"]] == [(10.0, 40.0)]
    assert [(c["onset_s"], c["end_s"]) for c in truth["short_cramps"]] == [(50.0, 54.0)]
    assert truth["confounders"] == [{"kind": "not_cramp", "start_s": 60.0, "end_s": 80.0}]
    assert truth_from_annotations([(1.0, 1.0, "arousal")], 600.0, START) is None


@pytest.fixture(scope="module")
def night_edf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    plan = plan_night(seed=3, hours=0.5, profile="dense")
    return write_night(plan, tmp_path_factory.mktemp("labels") / "night.edf")


def test_truth_for_reads_edf_annotations_without_truth_file(
    night_edf: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.edf"
    copy.write_bytes(night_edf.read_bytes())
    truth = json.loads(night_edf.with_suffix(".truth.json").read_text())
    found = truth_for(copy)  # no copy.truth.json: the simulator's EDF+ annotations
    assert found is not None and found.sources == ("EDF+ annotations",)
    assert [(round(c["onset_s"], 2), round(c["end_s"], 2)) for c in found.truth["cramps"]] == [
        (round(c["onset_s"], 2), round(c["end_s"], 2)) for c in truth["cramps"]
    ]
    with_truth = truth_for(night_edf)
    assert with_truth is not None and with_truth.sources == ("night.truth.json",)


def test_label_cli(night_edf: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edf = tmp_path / "mine.edf"
    edf.write_bytes(night_edf.read_bytes())
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n")
    start = datetime.fromisoformat(
        json.loads(night_edf.with_suffix(".truth.json").read_text())["start"]
    )
    clock = f"{(start.hour + (start.minute + 20) // 60) % 24:02d}:{(start.minute + 20) % 60:02d}"
    assert main(["label", str(edf), "--events", str(events), "--not-cramp", "1",
                 "--confirm", "s:left:2:started", "--cramp", f"{clock}+-5"]) == 0
    assert "3 label(s) added" in capsys.readouterr().out
    stored = read_labels(labels_path(edf))
    assert stored is not None
    assert [x.kind for x in stored.labels] == ["not_cramp", "cramp", "cramp"]
    assert stored.labels[2].t_s == pytest.approx(1200.0) and stored.labels[2].tolerance_s == 300
    # a second call needs no events: the detections are in the labels file
    state = tmp_path / "state"
    state.mkdir()
    (state / "labels.jsonl").write_text(json.dumps(
        {"label": "false_alarm", "event_id": "s:left:3:started", "time": "t"}) + "\n")
    assert main(["label", str(edf), "--from-state", str(state)]) == 0
    night = truth_for(edf)
    assert night is not None and night.sources == ("EDF+ annotations", "mine.labels.json")
    m = score_night(night.truth, EVENTS).metrics
    assert m.false_alarms_by_cause.get("not_cramp") == 2
    alone = load_truth(labels_path(edf))  # no truth file beside: the user's labels only
    assert [c["kind"] for c in alone["confounders"]] == ["not_cramp", "not_cramp"]
    # confirmed #2 lies in the window around clock+20 min: its exact span replaces it
    assert [(c["onset_s"], c.get("approximate")) for c in alone["cramps"]] == [(1000.0, None)]
    assert main(["label", str(edf), "--not-cramp", "9"]) == 65
    assert main(["label", str(tmp_path / "nope.edf")]) == 65


def test_load_truth_accepts_truth_or_labels(night_edf: Path, tmp_path: Path) -> None:
    tpath = night_edf.with_suffix(".truth.json")
    assert load_truth(tpath) == json.loads(tpath.read_text())
    night = NightLabels(recording="night.edf", start=START, duration_s=1800.0,
                        detections=[Detection(event_id="a:left:1:started", t_onset=5.0,
                                              t_detect=9.0, t_end=20.0)])
    night.add(Label(kind="cramp", event_id="a:left:1"))
    lpath = labels_path(night_edf)
    write_labels(lpath, night)
    merged = load_truth(lpath)  # applied over the simulator's truth beside it
    assert len(merged["cramps"]) == len(json.loads(tpath.read_text())["cramps"]) + 1
    lpath.unlink()


def test_score_and_replay_read_labels_over_the_truth(tmp_path: Path) -> None:
    """`crampwatch score NIGHT.labels.json EVENTS` applies the user's verdict over the truth."""
    truth = {
        "format": "crampwatch-truth/1", "duration_s": 1800.0, "start": START.isoformat(),
        "cramps": [{"onset_s": 90.0, "end_s": 160.0, "level": 3.0}],
        "short_cramps": [], "confounders": [], "bad_signal": [],
    }
    (tmp_path / "n.truth.json").write_text(json.dumps(truth))
    events = [
        {"event": "cramp_started", "event_id": "s:left:1:started", "leg": "left",
         "t_onset": 95.0, "t_detect": 100.0, "time": START.isoformat(), "intensity": 3.0},
        {"event": "cramp_ended", "event_id": "s:left:1:ended", "leg": "left", "t_onset": 95.0,
         "t_end": 150.0, "duration_s": 55.0, "time": START.isoformat(), "intensity": 3.0},
    ]
    events_path = tmp_path / "events.jsonl"
    events_path.write_text("".join(json.dumps(e) + "\n" for e in events))
    assert aggregate([score_night(truth, events)]).metrics.false_alarms == 0

    night = NightLabels(recording="n.edf", start=START, duration_s=1800.0,
                        detections=detections_from_events(_typed(events)))
    night.add(Label(kind="not_cramp", event_id="s:left:1"))
    lpath = tmp_path / "n.labels.json"
    write_labels(lpath, night)
    labelled = aggregate([score_files(load_truth(lpath), lpath, events_path)]).metrics
    assert labelled.false_alarms == 1 and labelled.hits == 0


def test_label_takes_events_again_once_the_labels_file_exists(
    night_edf: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #16 item 8: a first run with a wrong events file must not fix the detections."""
    edf = tmp_path / "again.edf"
    edf.write_bytes(night_edf.read_bytes())
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")  # an events file of the wrong night: no detections
    assert main(["label", str(edf), "--events", str(empty), "--list"]) == 0
    stored = read_labels(labels_path(edf))
    assert stored is not None and stored.detections == []
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n")
    capsys.readouterr()
    assert main(["label", str(edf), "--events", str(events), "--not-cramp", "2", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [d["event_id"] for d in shown["detections"]] == [
        e["event_id"] for e in EVENTS if e["event"] == "cramp_started"
    ]
    assert shown["added"] == 1 and shown["detections"][1]["verdict"] == "not_cramp"
    stored = read_labels(labels_path(edf))
    assert stored is not None and len(stored.detections) == 3 and len(stored.labels) == 1
    # an events file with only bad lines is refused, and the stored detections stay
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("{not json\n" + "[" * 10_000 + "\n")
    assert main(["label", str(edf), "--events", str(garbage)]) == 65
    assert "no usable event" in capsys.readouterr().err
    stored = read_labels(labels_path(edf))
    assert stored is not None and len(stored.detections) == 3
