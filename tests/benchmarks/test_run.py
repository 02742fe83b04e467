"""The benchmark runner end to end: in-process and external detectors, timing, scoring, cache."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bedside.cli import main as cli_main
from bedside.offline.scoring import score_night
from benchmarks.corpus import (
    CORPUS,
    FAMILY_MIX,
    HOLDOUT,
    HOLDOUT_B,
    QUICK,
    NightSpec,
    ensure_night,
    generate,
    night_dir,
    prune,
    simulator_fingerprint,
)
from benchmarks.run import detector_settings, format_speed, result_dict, run_corpus, run_edf
from benchmarks.run import main as run_main
from detector.rules import BLIND_CONFIRM_S
from detector.settings import DetectorSettings
from firmware_bridge.edf import EdfSignalSpec, EdfWriter
from firmware_bridge.errors import ConfigError, InputError
from tests.conftest import ROOT
from tests.detector.synth import shwedyk_noise

EMIT = f"{sys.executable} -m benchmarks.emit --detector naive"
START = datetime(2026, 11, 26, 22, 30)


def handmade_night(tmp_path: Path, rng: np.random.Generator) -> tuple[Path, Path]:
    """2 min: 1 EMG channel at 1 kHz (3 µV rest, ×10 from 70 to 100 s, with a surface-EMG
    spectrum: white noise would be a poor contact's), accel at 50 Hz."""
    fs, acc_fs, seconds = 1000.0, 50.0, 120
    t = np.arange(int(seconds * fs)) / fs
    emg = shwedyk_noise(rng, t.size, fs) * 3.0 * np.where((t >= 70) & (t < 100), 10.0, 1.0)
    accel = np.zeros((3, int(seconds * acc_fs)))
    accel[0] = 1.0
    edf = tmp_path / "hand.edf"
    specs = [EdfSignalSpec("EMG calf", "uV", fs, -5000.0, 5000.0)] + [
        EdfSignalSpec(label, "g", acc_fs, -8.0, 8.0) for label in ("Accel X", "Accel Y", "Accel Z")
    ]
    with EdfWriter(edf, specs, start=START) as writer:
        writer.write([emg, *accel])
    truth = tmp_path / "hand.truth.json"
    doc: dict[str, Any] = {
        "format": "crampwatch-truth/1",
        "seed": 0,
        "profile": "handmade",
        "duration_s": float(seconds),
        "start": START.isoformat(),
        "subject": {"leg": "right"},
        "cramps": [{"onset_s": 70.0, "end_s": 100.0, "level": 10.0}],
        "short_cramps": [],
        "confounders": [],
        "bad_signal": [],
    }
    truth.write_text(json.dumps(doc))
    return edf, truth


def without_leg(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The command is told only the EDF, so it names the leg "left"; compare the rest."""
    return [{k: v for k, v in e.items() if k not in {"leg", "event_id"}} for e in events]


def test_in_process_and_external_command_agree(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # `python -m benchmarks.emit` imports from the checkout
    edf, truth = handmade_night(tmp_path, rng)
    inproc = run_edf(edf, truth, "naive", name="hand")
    external = run_edf(edf, truth, EMIT, name="hand")
    assert without_leg(inproc.events) == without_leg(external.events)
    assert [e["event"] for e in inproc.events] == ["cramp_started", "cramp_ended"]
    started = inproc.events[0]
    assert started["event_id"] == "hand:right:1:started" and started["leg"] == "right"
    assert started["time"].startswith("2026-11-26T22:31:1")  # 22:30 + ~73 s
    assert inproc.hours == pytest.approx(120 / 3600)
    assert (inproc.emg_rate_hz, inproc.n_emg_channels) == (1000.0, 1)
    assert inproc.detector_s > 0 and inproc.floor_s > 0 and inproc.read_s > 0
    assert inproc.detector_cpu_s > 0 and inproc.floor_cpu_s > 0
    assert external.detector_cpu_s > 0.05  # the child's CPU time: at least importing numpy
    assert (inproc.returncode, external.returncode) == (None, 0)
    assert external.detector_s > inproc.detector_s  # the command also starts Python, reads EDF
    m = score_night(json.loads(truth.read_text()), inproc.events).metrics
    assert (m.hits, m.false_alarms) == (1, 0)
    assert 0 < m.latency_median_s < 5  # type: ignore[operator]


def test_failing_or_garbled_command_is_one_input_error(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    edf, truth = handmade_night(tmp_path, rng)
    fail = f"{sys.executable} -c 'import sys; sys.exit(\"no detector here\")'"
    with pytest.raises(InputError, match="exit 1: no detector here"):
        run_edf(edf, truth, fail, name="hand")
    garbled = f"{sys.executable} -c 'print(\"{{oops\")'"
    with pytest.raises(InputError, match="stdout line 1: not JSON"):
        run_edf(edf, truth, garbled, name="hand")


def test_corpus_definition_is_large_enough() -> None:
    assert len(CORPUS) == 12 and sum(s.hours for s in CORPUS) >= 60
    assert {s.profile for s in CORPUS} == {"dense", "typical", "quiet"}
    assert len({s.seed for s in CORPUS}) == len(CORPUS)  # the seed draws the subject
    assert sum(1 for s in CORPUS if s.hours == 8.0) >= 6
    every = CORPUS + QUICK + HOLDOUT + HOLDOUT_B + FAMILY_MIX
    assert len({s.name for s in every}) == len(every)
    assert not {s.seed for s in HOLDOUT} & {s.seed for s in CORPUS}  # other subjects


def test_quick_and_holdout_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_main(["--quick", "--holdout"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


TINY = (NightSpec("dense", 11, 0.05), NightSpec("quiet", 12, 0.05))  # 3 min each


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache holding the TINY nights, generated once for this module."""
    cache = tmp_path_factory.mktemp("corpus")
    nights = generate(TINY, night_dir(cache), jobs=1)
    assert all(n.generation_s is not None and n.generation_s > 0 for n in nights)
    assert all(n.edf.is_file() and n.truth.is_file() for n in nights)
    assert night_dir(cache).name == simulator_fingerprint()
    return cache


@pytest.mark.slow
def test_tiny_simulated_corpus_end_to_end(
    tiny_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    first = run_corpus(TINY, "naive", tiny_cache)
    assert [r.generation_s for r in first.nights] == [None, None]  # from the cache
    assert first.corpus == simulator_fingerprint()
    m = first.score.metrics
    assert m.nights == 2 and m.duration_s == pytest.approx(2 * 180.0, abs=2.0)
    truths = [r.truth for r in first.nights]
    assert m.cramps == sum(len(t["cramps"]) for t in truths)
    # the same nights through the external-command path give the same scores
    second = run_corpus(TINY, EMIT, tiny_cache, jobs=2)
    assert [without_leg(r.events) for r in second.nights] == [
        without_leg(r.events) for r in first.nights
    ]
    assert second.score.metrics == first.score.metrics
    table = format_speed(first)
    assert "dense-s11-0.05h" in table and "det/floor" in table
    doc = json.loads(json.dumps(result_dict(first)))
    assert doc["score"]["aggregate"]["nights"] == 2
    assert doc["speed"][0]["floor_cpu_s"] > 0


@pytest.mark.slow
def test_cli_output_scores_the_same_with_crampwatch_score(
    tiny_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("benchmarks.corpus.QUICK", TINY)
    out, events_dir = tmp_path / "run.json", tmp_path / "events"
    args = [
        "--quick",
        "--cache",
        str(tiny_cache),
        "--json",
        str(out),
        "--events-dir",
        str(events_dir),
    ]
    assert run_main(args) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("detector: naive") and "floor cpu" in printed
    runner = json.loads(out.read_text())
    files = []
    for spec in TINY:
        night = ensure_night(spec, night_dir(tiny_cache))
        files += [str(night.truth), str(events_dir / f"{spec.name}.events.jsonl")]
    assert cli_main(["score", "--json", *files]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["aggregate"] == runner["score"]["aggregate"]


def test_pipeline_runs_through_the_same_protocol(tmp_path: Path, rng: np.random.Generator) -> None:
    pytest.importorskip("detector.pipeline", reason="the production pipeline is not built yet")
    edf, truth = handmade_night(tmp_path, rng)
    result = run_edf(edf, truth, "pipeline", name="hand")
    assert result.detector_s > 0
    score = score_night(json.loads(truth.read_text()), result.events)  # valid event JSON
    assert score.metrics.nights == 1


def test_bad_config_is_one_line_and_exit_78(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[detector]\nmin_emg_rate_hz_typo = 3\n")
    assert run_main(["--quick", "--cache", str(tmp_path), "--config", str(config)]) == 78
    err = capsys.readouterr().err
    assert "min_emg_rate_hz_typo" in err and err.count("\n") == 1
    assert {p.name for p in tmp_path.iterdir()} == {"c.toml"}  # nothing generated


def test_prune_removes_only_other_simulator_versions(tmp_path: Path) -> None:
    current = night_dir(tmp_path)
    stale = tmp_path / "0123456789ab"
    for d in (current, stale, tmp_path / "my-notes"):
        d.mkdir(parents=True)
        (d / "x.edf").write_bytes(b"")
    assert prune(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([current.name, "my-notes"])
    assert prune(tmp_path / "missing") == []


def test_emg_only_declares_the_accelerometer_lost(tmp_path: Path, rng: np.random.Generator) -> None:
    edf, truth = handmade_night(tmp_path, rng)
    # the handmade accelerometer reads 1 g along the shank: upright, so no alarm with it …
    with_accel = run_edf(edf, truth, "pipeline", name="hand")
    assert [e["event"] for e in with_accel.events] == []
    # … while without it the 30-s burst alarms after the blind confirmation
    blind = run_edf(edf, truth, "pipeline", name="hand", emg_only=True)
    started = [e for e in blind.events if e["event"] == "cramp_started"]
    assert len(started) == 1
    assert started[0]["t_detect"] >= 70.0 + BLIND_CONFIRM_S
    with pytest.raises(InputError, match="--emg-only needs an in-process detector"):
        run_edf(edf, truth, EMIT, name="hand", emg_only=True)


def test_set_overrides_one_detector_key_checked_like_a_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert detector_settings(None, []) is None  # the detector's own defaults
    s = detector_settings(None, ["confirm_s=4", "end_hold_s=25.5"])
    assert s is not None and (s.confirm_s, s.end_hold_s) == (4.0, 25.5)
    assert s.onset_ratio == DetectorSettings().onset_ratio  # the rest untouched
    cfg = tmp_path / "c.toml"
    cfg.write_text("[detector]\nonset_ratio = 2.0\nconfirm_s = 9.0\n", encoding="utf-8")
    s = detector_settings(cfg, ["confirm_s=5"])  # --set wins over the file
    assert s is not None and (s.onset_ratio, s.confirm_s) == (2.0, 5.0)
    for bad, why in (
        ("confrim_s=4", "did you mean 'confirm_s'"),
        ("confirm_s=0.1", "confirm_s"),  # below its documented range
        ("confirm_s=4,6", "one value, not several"),
    ):
        with pytest.raises(ConfigError, match=why):
            detector_settings(None, [bad])
    assert run_main(["--detector", "pipeline", "--quick", "--set", "confrim_s=4"]) == 78
    assert "did you mean 'confirm_s'" in capsys.readouterr().err
