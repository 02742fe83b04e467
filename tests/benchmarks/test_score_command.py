"""``crampwatch score``: files in, table or JSON out, bad files as one line with exit 65."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bedside.cli import main

TRUTH: dict[str, Any] = {
    "format": "crampwatch-truth/1",
    "seed": 3,
    "profile": "dense",
    "duration_s": 14400.0,
    "subject": {"leg": "left"},
    "cramps": [{"onset_s": 100.0, "end_s": 220.0, "level": 3.0}],
    "short_cramps": [],
    "confounders": [{"kind": "plm_series", "start_s": 900.0, "end_s": 1200.0}],
    "bad_signal": [],
}
EVENTS = [
    {"event": "cramp_started", "event_id": "x:left:1:started", "t_onset": 99.0, "t_detect": 103.0},
    {"event": "cramp_update", "event_id": "x:left:1:update:1", "t": 110.0, "t_detect": 103.0},
    {"event": "cramp_ended", "event_id": "x:left:1:ended", "t_onset": 99.0, "t_end": 224.0},
    {"event": "cramp_started", "event_id": "x:left:2:started", "t_onset": 950.0, "t_detect": 953.0},
]


def write_night(tmp_path: Path, name: str, truth: object, events: list[Any] | str) -> list[str]:
    t = tmp_path / f"{name}.truth.json"
    e = tmp_path / f"{name}.events.jsonl"
    t.write_text(json.dumps(truth))
    if isinstance(events, str):
        e.write_text(events)
    else:
        e.write_text("".join(json.dumps(ev) + "\n" for ev in events) + "\n")
    return [str(t), str(e)]


def test_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = write_night(tmp_path, "dense-s3", TRUTH, EVENTS)
    assert main(["score", *files]) == 0
    out = capsys.readouterr().out
    assert "dense-s3" in out and "100.0%" in out
    assert "false alarms by cause: plm_series 1" in out


def test_json_aggregates_nights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = write_night(tmp_path, "a", TRUTH, EVENTS) + write_night(tmp_path, "b", TRUTH, [])
    assert main(["score", "--json", *files]) == 0
    doc = json.loads(capsys.readouterr().out)
    agg = doc["aggregate"]
    assert (agg["nights"], agg["cramps"], agg["hits"], agg["false_alarms"]) == (2, 2, 1, 1)
    assert agg["false_alarms_per_8h"] == pytest.approx(1.0)  # 1 alarm in 8 h of nights
    assert agg["ignored_events"] == 1
    assert [n["name"] for n in doc["nights"]] == ["a", "b"]
    assert doc["nights"][0]["hits"][0]["end_error_s"] == 4.0


@pytest.mark.parametrize(
    ("truth", "events", "message"),
    [
        ("{not json", [], "a.truth.json: not JSON"),
        ([1, 2], [], "a.truth.json: a truth file must hold a JSON object"),
        ({**TRUTH, "format": "v0"}, [], "a.truth.json: truth: 'format'"),
        (TRUTH, '{"event": "cramp_started", "t_detect": 1}\n{oops\n', "a.events.jsonl:2: not JSON"),
        (TRUTH, "[1]\n", "a.events.jsonl:1: an event must be a JSON object"),
        (TRUTH, '{"event": "cramp_started"}\n', "a.events.jsonl: event #1: 't_detect'"),
    ],
)
def test_bad_files_give_one_line_and_exit_65(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    truth: object,
    events: list[Any] | str,
    message: str,
) -> None:
    t = tmp_path / "a.truth.json"
    files = write_night(tmp_path, "a", truth, events)
    if isinstance(truth, str):
        t.write_text(truth)
    assert main(["score", *files]) == 65
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_missing_file_and_odd_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", str(tmp_path / "none.truth.json"), str(tmp_path / "e.jsonl")]) == 65
    assert "none.truth.json: no such file" in capsys.readouterr().err
    assert main(["score", str(tmp_path / "only-one.json")]) == 2
    assert "pairs" in capsys.readouterr().err


def test_the_cli_counts_a_recorded_cramp_and_times_from_the_full_onset(tmp_path: Path) -> None:
    """Through the installed ``crampwatch`` (issue 15): lead_s opens the window, latency is from
    the full onset, a cramp_recorded is counted but not timely, a bad one exits 65."""
    cli = Path(sys.executable).parent / "crampwatch"
    truth = {**TRUTH, "cramps": [
        {"lead_s": 60.0, "onset_s": 100.0, "end_s": 220.0, "family": "build_up", "level": 3.0},
        {"lead_s": 500.0, "onset_s": 500.0, "end_s": 515.0, "family": "short_moving", "level": 3.0},
    ]}  # fmt: skip
    events = [
        {"event": "cramp_started", "t_onset": 90.0, "t_detect": 95.0},  # in the build-up
        {"event": "cramp_recorded", "t_onset": 501.0, "t_end": 514.0, "duration_s": 13.0},
        {"event": "cramp_started", "t_onset": 520.0, "t_detect": 530.0},  # prompt after it ended
    ]
    files = write_night(tmp_path, "n", truth, events)
    run = subprocess.run([str(cli), "score", "--json", *files], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    agg = doc["aggregate"]
    assert (agg["hits"], agg["recorded"], agg["counted_sensitivity"]) == (1, 1, 1.0)
    assert agg["latency_median_s"] == -5.0  # 5 s before the full onset
    assert agg["false_alarms"] == 1 and agg["after_cramp_false_alarms"] == 1
    assert doc["by_family"]["short_moving"]["false_alarms"] == 1
    bad = write_night(tmp_path, "b", truth, [{"event": "cramp_recorded", "t_end": 3.0}])
    run = subprocess.run([str(cli), "score", *bad], capture_output=True, text=True)
    assert run.returncode == 65 and "event #1: 't_onset'" in run.stderr
    assert run.stderr.count("\n") == 1
