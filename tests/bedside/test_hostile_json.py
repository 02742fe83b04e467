"""Issue #16 item 3, bedside side: every JSON file the bedside reads (events, truth, labels,
the daemon's labels.jsonl, calibration, adherence) is parsed with bounded size and depth; deep
nesting or a 400-digit integer is one bad line or one clear refusal (exit 65), never a
RecursionError or OverflowError."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from bedside.offline.labels import NightLabels, import_daemon_labels, read_labels
from bedside.prompt.reminder import AdherenceLog
from bedside.stream.calibration_store import load_calibration
from bedside.stream.records import read_events
from firmware_bridge.errors import InputError
from tests.bedside.cli_proc import crampwatch, one_line_error

DEEP = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 5_000 + "1" + "}" * 5_000
HUGE_INT = '{"event": "cramp_started", "ts": ' + "9" * 400 + "}"
HOSTILE = [DEEP, DEEP_OBJECT, HUGE_INT, "1e400", '{"x": NaN}']

TRUTH = {"format": "crampwatch-truth/1", "duration_s": 1800.0, "start": "2026-11-26T22:30:00",
         "cramps": [], "short_cramps": [], "confounders": [], "bad_signal": []}
STARTED = {"event": "cramp_started", "event_id": "s:left:1:started", "leg": "left",
           "t_onset": 95.0, "t_detect": 100.0, "time": "2026-11-26T22:31:40+00:00",
           "intensity": 3.0}


@pytest.mark.parametrize("line", HOSTILE)
def test_events_file_hostile_line_is_one_bad_line(tmp_path: Path, line: str) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(STARTED) + "\n" + line + "\n")
    log = read_events(path)
    assert len(log.events) == 1 and log.bad_lines == 1


@pytest.mark.parametrize("text", HOSTILE)
def test_whole_files_refuse_hostile_json(tmp_path: Path, text: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(text)
    with pytest.raises(InputError, match=r"x\.json"):
        read_labels(path)
    with pytest.raises(InputError, match=r"x\.json"):
        load_calibration(path)


def test_daemon_labels_and_adherence_skip_hostile_lines(tmp_path: Path) -> None:
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join(HOSTILE) + "\n")
    night = NightLabels(recording="n.edf", start=datetime(2026, 11, 26, 22, 30),
                        duration_s=3600.0, detections=[])
    assert import_daemon_labels(night, labels) == (0, len(HOSTILE))
    adherence = AdherenceLog(tmp_path / "adherence.jsonl")
    adherence.path.write_text("\n".join(HOSTILE) + "\n")
    assert adherence.records() == [] and adherence.bad_lines == len(HOSTILE)


def test_score_cli_refuses_a_deep_truth_and_counts_a_deep_event(tmp_path: Path) -> None:
    truth, events = tmp_path / "n.truth.json", tmp_path / "events.jsonl"
    truth.write_text(DEEP)
    events.write_text(json.dumps(STARTED) + "\n" + DEEP + "\n" + HUGE_INT + "\n")
    proc = crampwatch("score", truth, events)
    assert proc.returncode == 65
    assert "n.truth.json" in one_line_error(proc)
    truth.write_text(json.dumps(TRUTH))
    proc = crampwatch("score", truth, events)
    assert "Traceback" not in proc.stderr and proc.returncode in (0, 65), proc.stderr
