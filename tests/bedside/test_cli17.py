"""Issue #17, the command line: which configuration a command uses (and says so first),
``--version``, ``--json`` outputs, ``score`` refusing files of different nights, ``simulate``
refusing to overwrite."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bedside.config import settings as settings_module
from bedside.config.settings import CONFIG_ENV, load_settings, package_version
from tests.bedside.cli_proc import crampwatch, one_line_error

STARTED = {"event": "cramp_started", "event_id": "s:left:1:started", "leg": "left",
           "t_onset": 95.0, "t_detect": 100.0, "time": "2026-11-26T22:31:40+00:00",
           "intensity": 3.0}


def _toml(path: Path, onset_ratio: float) -> Path:
    path.write_text(f"[detector]\nonset_ratio = {onset_ratio}\n")
    return path


@pytest.fixture
def no_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Nothing in $CRAMPWATCH_CONFIG, and the installed path is one we control."""
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    installed = tmp_path / "etc" / "crampwatch.toml"
    monkeypatch.setattr(settings_module, "INSTALLED_CONFIG", installed)
    return installed


def test_config_given_then_env_then_installed_then_built_in(
    no_installed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    given, env = _toml(tmp_path / "given.toml", 3.1), _toml(tmp_path / "env.toml", 3.2)
    no_installed.parent.mkdir()
    _toml(no_installed, 3.3)
    monkeypatch.setenv(CONFIG_ENV, str(env))
    cases = [
        (given, 3.1, f"configuration: {given} (given)"),
        (None, 3.2, f"configuration: {env} (from ${CONFIG_ENV})"),
    ]
    for path, ratio, said in cases:
        caplog.clear()
        with caplog.at_level(logging.INFO):
            assert load_settings(path).detector.onset_ratio == ratio
        assert caplog.messages[0] == said
    monkeypatch.delenv(CONFIG_ENV)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert load_settings(None).detector.onset_ratio == 3.3
    assert caplog.messages[0] == f"configuration: {no_installed} (installed)"
    no_installed.unlink()
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        assert load_settings(None) == settings_module.Settings()
    assert caplog.messages[0].startswith("configuration: built-in defaults")


def test_commands_read_crampwatch_config_and_say_so_first(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[detector]\nno_such_key = 1\n")
    proc = crampwatch("replay", tmp_path / "missing.edf", env={CONFIG_ENV: str(bad)})
    assert proc.returncode == 78
    assert str(bad) in one_line_error(proc)
    assert proc.stderr.splitlines()[0] == (
        f"INFO bedside.config.settings: configuration: {bad} (from ${CONFIG_ENV})"
    )


def test_version() -> None:
    proc = crampwatch("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"crampwatch {package_version()}"
    assert package_version() != "0+unknown"  # the package is installed (pip install -e)


def test_simulate_json_refuses_to_overwrite_then_replay_json(tmp_path: Path) -> None:
    edf = tmp_path / "night.edf"
    made = crampwatch("simulate", "--seed", "4", "--hours", "0.1", "--profile", "dense",
                      "-o", edf, "--json")
    assert made.returncode == 0, made.stderr
    info = json.loads(made.stdout)
    assert info["edf"] == str(edf) and info["duration_s"] == 360.0 and info["cramps"] >= 1
    again = crampwatch("simulate", "--seed", "5", "-o", edf)
    assert again.returncode == 65 and "--force" in one_line_error(again)
    assert json.loads(edf.with_suffix(".truth.json").read_text())["seed"] == 4
    truth = Path(info["truth"])
    replayed = crampwatch("replay", edf, "--truth", truth, "--events", tmp_path / "e.jsonl",
                          "--json")
    assert replayed.returncode == 0, replayed.stderr
    summary = json.loads(replayed.stdout)
    (one,) = summary["inputs"]
    assert one["path"] == str(edf) and one["duration_s"] == 360.0
    assert one["cramps"] == sum(
        json.loads(line)["event"] == "cramp_started"
        for line in (tmp_path / "e.jsonl").read_text().splitlines()
    )
    assert summary["score"]["aggregate"] and len(summary["score"]["nights"]) == 1
    usage = crampwatch("replay", edf, "--json")
    assert usage.returncode == 2 and "--events" in usage.stderr
    forced = crampwatch("simulate", "--seed", "5", "--hours", "0.05", "-o", edf, "--force")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(edf.with_suffix(".truth.json").read_text())["seed"] == 5


def test_check_config_json(tmp_path: Path) -> None:
    proc = crampwatch("check-config", _toml(tmp_path / "c.toml", 3.5), "--json")
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["ok"] and shown["settings"]["detector"]["onset_ratio"] == 3.5
    assert shown["settings"]["mqtt"]["enabled"] is False  # defaults filled in


def test_score_refuses_events_past_the_truths_night(tmp_path: Path) -> None:
    truth = tmp_path / "n.truth.json"
    truth.write_text(json.dumps({
        "format": "crampwatch-truth/1", "duration_s": 1800.0, "start": "2026-11-26T22:30:00",
        "cramps": [], "short_cramps": [], "confounders": [], "bad_signal": []}))
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps({**STARTED, "t_onset": 5000.0, "t_detect": 5003.0}) + "\n")
    proc = crampwatch("score", truth, events)
    assert proc.returncode == 65
    line = one_line_error(proc)
    assert "mismatched nights" in line and "5003 s" in line
    events.write_text(json.dumps(STARTED) + "\n")
    assert crampwatch("score", truth, events).returncode == 0
