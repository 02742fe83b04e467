"""crampwatch tune: grid parsing, the choice rule, night folds, and recovering a mis-set
threshold on a small simulated corpus (real simulator, real pipeline, 2 worker processes)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bedside.cli import main
from bedside.config.settings import load_settings
from bedside.offline.labels import truth_for
from bedside.offline.tune import (
    Summary,
    choose,
    folds,
    pareto_front,
    parse_grid,
    tune,
)
from detector.settings import DetectorSettings
from firmware_bridge.edf import EdfSignalSpec, EdfWriter
from firmware_bridge.errors import ConfigError
from firmware_bridge.simulation import plan_night, render_chunks, write_night

SEEDS = (1, 2, 3, 4)  # dense half-hour nights: one required cramp each (checked below)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("tune-corpus")
    paths = []
    for seed in SEEDS:
        plan = plan_night(seed=seed, hours=0.5, profile="dense")
        paths.append(write_night(plan, root / f"dense-s{seed}.edf"))
    return paths


def _summary(cramps: int, hits: int, fas: int, lat: float | None) -> Summary:
    return Summary(
        nights=1, cramps=cramps, hits=hits, false_alarms=fas, duration_s=28800.0,
        latency_median_s=lat,
    )


def test_parse_grid_checks_names_types_and_ranges() -> None:
    grid = parse_grid(["onset_ratio=1.5,1.8,1.8", "plm_min_bursts=2,3"])
    assert grid == {"onset_ratio": [1.5, 1.8], "plm_min_bursts": [2, 3]}
    with pytest.raises(ConfigError, match="did you mean 'onset_ratio'"):
        parse_grid(["onset_ration=1.5"])
    with pytest.raises(ConfigError, match="below the minimum"):
        parse_grid(["onset_ratio=0.5"])
    with pytest.raises(ConfigError, match="expected an integer"):
        parse_grid(["plm_min_bursts=2.5"])
    with pytest.raises(ConfigError, match="PARAM=V1"):
        parse_grid(["onset_ratio"])


def test_choice_never_relaxes_false_alarms() -> None:
    base = _summary(10, 6, 2, 5.0)
    louder = _summary(10, 10, 3, 4.0)  # more hits but more false alarms: not eligible
    same_fa = _summary(10, 8, 2, 6.0)
    quicker = _summary(10, 8, 1, 4.0)  # same sensitivity, fewer FAs, quicker: wins
    assert choose([base, louder, same_fa, quicker], [0, 1, 1, 1]) == 3
    assert choose([base, louder], [0, 1]) == 0  # nothing eligible but the current settings
    # ties on everything: the fewest changed parameters
    assert choose([base, same_fa, same_fa], [0, 2, 1]) == 2
    # no cramps labelled (only "not a cramp"): fewer false alarms decide
    assert choose([_summary(0, 0, 3, None), _summary(0, 0, 0, None)], [0, 1]) == 1


def test_pareto_front() -> None:
    s = [_summary(10, 6, 2, 5.0), _summary(10, 9, 4, 5.0), _summary(10, 6, 3, 5.0)]
    assert pareto_front(s) == [0, 1]  # #2 is beaten by #0 on false alarms


def test_folds_partition_the_nights_reproducibly() -> None:
    names = ["c", "a", "e", "b", "d"]
    got = folds(names, 2)
    assert sorted(i for f in got for i in f) == list(range(5))
    assert got == folds(list(names), 2)
    assert [sorted(names[i] for i in f) for f in got] == [["a", "c", "e"], ["b", "d"]]
    assert len(folds(names, 9)) == 5  # capped at one night per fold
    with pytest.raises(ValueError):
        folds(names, 1)


def test_tune_recovers_a_mis_set_threshold(corpus: list[Path]) -> None:
    nights = [truth_for(p) for p in corpus]
    assert all(n is not None and n.cramps == 1 for n in nights)
    # onset_ratio 4.0 × rest floor (defaults: 1.8) misses the weaker cramps (+100..800 % [CS])
    bad = DetectorSettings(onset_ratio=4.0)
    result = tune(
        [n for n in nights if n is not None],
        bad,
        {"onset_ratio": [4.0, 1.8, 2.4]},
        k=2,
        jobs=2,
    )
    chosen = result.settings[result.chosen]
    assert chosen.onset_ratio in (1.8, 2.4)
    mis, best = result.summaries[0], result.summaries[result.chosen]
    assert best.sensitivity == 1.0
    assert mis.sensitivity is not None and mis.sensitivity < 1.0  # the mis-set one misses some
    assert best.false_alarms <= mis.false_alarms
    assert len(result.cv) == 2
    assert all(result.settings[f.chosen].onset_ratio != 4.0 for f in result.cv)
    assert any("too few" in w for w in result.warnings)  # 4 cramps < 10


def test_tune_cli_writes_a_loadable_config(
    corpus: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "current.toml"
    cfg.write_text("[detector]\nonset_ratio = 4.0\n", encoding="utf-8")
    out = tmp_path / "best.toml"
    code = main(
        ["tune", *map(str, corpus[:2]), "--grid", "onset_ratio=4.0,1.8", "--config", str(cfg),
         "--folds", "2", "-j", "2", "-o", str(out)]
    )
    assert code == 0
    table = capsys.readouterr().out
    assert "Pareto" in table and "held out" in table
    assert load_settings(out).detector.onset_ratio == 1.8
    assert tomllib.loads(out.read_text(encoding="utf-8"))["detector"] == {"onset_ratio": 1.8}


def test_tune_cli_refuses_unlabelled_night(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = plan_night(seed=5, hours=0.02, profile="quiet")
    spec = EdfSignalSpec(label="EMG calf", unit="uV", rate_hz=plan.emg_rate_hz,
                         physical_min=-1e4, physical_max=1e4, transducer="", prefilter="")
    bare = tmp_path / "bare.edf"
    with EdfWriter(bare, [spec], start=plan.start) as writer:  # no annotations, no truth
        for emg, _accel in render_chunks(plan):
            writer.write([emg[0]])
    assert main(["tune", str(bare), "--grid", "onset_ratio=1.8", "-o", str(tmp_path / "o")]) == 65
    assert "bare.edf: no labels" in capsys.readouterr().err
    junk = tmp_path / "junk.edf"
    junk.write_bytes(b"not an edf")
    assert main(["tune", str(junk), "--grid", "onset_ratio=1.8", "-o", str(tmp_path / "o")]) == 65
    assert main(["tune", str(bare), "--grid", "onset_ration=1.8", "-o", str(tmp_path / "o")]) == 78
    assert not (tmp_path / "o").exists()
