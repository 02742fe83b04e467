"""EDF+ and truth files, read back with an independent reader (edfio), and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import edfio
import numpy as np
import pytest

from bedside.cli import main
from firmware_bridge.errors import InputError
from firmware_bridge.simulation import plan_night, render_chunks, truth_path, write_night

EMG_LSB_UV = 20000.0 / 65535  # ±10 mV over int16: 0.31 µV
ACCEL_LSB_G = 16.0 / 65535  # ±8 g over int16: 0.24 mg


def test_edfio_reads_labels_units_rates_and_the_samples(tmp_path: Path) -> None:
    plan = plan_night(seed=5, hours=0.02, profile="dense", emg_rate_hz=2000, accel_rate_hz=100)
    path = write_night(plan, tmp_path / "night.edf")
    assert path == tmp_path / "night.edf"
    edf = edfio.read_edf(path)
    labels = [s.label for s in edf.signals]
    assert labels == [*plan.emg_labels, "Accel X", "Accel Y", "Accel Z"]
    emg = np.concatenate([e for e, _ in render_chunks(plan)], axis=1)
    acc = np.concatenate([a for _, a in render_chunks(plan)], axis=1)
    for i, sig in enumerate(edf.signals):
        if sig.label.startswith("EMG"):
            assert sig.physical_dimension == "uV" and sig.sampling_frequency == 2000
            np.testing.assert_allclose(sig.data, emg[i], rtol=0, atol=EMG_LSB_UV / 2 + 1e-9)
        else:
            assert sig.physical_dimension == "g" and sig.sampling_frequency == 100
            axis = "XYZ".index(sig.label[-1])
            np.testing.assert_allclose(sig.data, acc[axis], rtol=0, atol=ACCEL_LSB_G / 2 + 1e-9)
    assert edf.duration == plan.duration_s
    assert edf.startdate == plan.start.date() and edf.starttime == plan.start.time()
    truth = json.loads(truth_path(path).read_text())
    assert truth == plan.truth
    texts = [a.text for a in edf.annotations]
    assert sum(t.startswith("cramp level") for t in texts) == len(truth["cramps"])
    onsets = sorted(a.onset for a in edf.annotations if a.text.startswith("cramp level"))
    assert onsets == pytest.approx(sorted(c["onset_s"] for c in truth["cramps"]), abs=1e-3)


def test_cli_writes_a_short_night(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "n.edf"
    code = main(["simulate", "--hours", "0.1", "--seed", "9", "--profile", "quiet",
                 "--emg-rate", "1000", "--accel-rate", "50", "-o", str(out)])  # fmt: skip
    assert code == 0
    edf = edfio.read_edf(out)
    assert edf.duration == 360.0
    assert edf.signals[0].label == "EMG calf" and edf.signals[0].sampling_frequency == 1000
    truth = json.loads((tmp_path / "n.truth.json").read_text())
    assert truth["seed"] == 9 and truth["profile"] == "quiet"
    assert "n.truth.json" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["--emg-rate", "100"],
        ["--emg-rate", "999.5"],
        ["--accel-rate", "1000"],
        ["--hours", "0"],
        ["--hours", "abc"],
        ["--profile", "wild"],
    ],
)
def test_cli_rejects_bad_arguments_with_usage_exit(tmp_path: Path, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--seed", "1", "-o", str(tmp_path / "x.edf"), *argv])
    assert exc.value.code == 2
    assert not (tmp_path / "x.edf").exists()


def test_cli_missing_folder_is_one_line_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["simulate", "--hours", "0.01", "--seed", "1", "-o", str(tmp_path / "no" / "x.edf")]
    )
    assert code == 65
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]


def test_write_night_to_a_folder_is_an_input_error(tmp_path: Path) -> None:
    plan = plan_night(seed=1, hours=0.001)
    target = tmp_path / "taken.edf"
    target.mkdir()
    with pytest.raises(InputError, match="cannot write"):
        write_night(plan, target)
