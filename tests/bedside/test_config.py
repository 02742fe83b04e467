"""Configuration loading: defaults, the example file, and one-line errors for every mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bedside.config.settings import Settings, example_toml, load_settings
from firmware_bridge.errors import EX_CONFIG, ConfigError
from tests.conftest import ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "crampwatch.toml"
    path.write_text(text)
    return path


def test_example_file_is_in_step_with_the_dataclasses() -> None:
    assert (ROOT / "config" / "crampwatch.toml").read_text() == example_toml(), (
        "regenerate: crampwatch check-config --print-example > config/crampwatch.toml"
    )


@pytest.mark.parametrize("path", sorted((ROOT / "config").glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path: Path) -> None:
    load_settings(path)


def test_example_loads_to_the_defaults() -> None:
    assert load_settings(ROOT / "config" / "crampwatch.toml") == Settings()


def test_none_gives_embedded_defaults() -> None:
    assert load_settings(None) == Settings()


def test_unknown_key_names_file_section_and_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "[detector]\nmin_emg_rate_h = 500\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert str(path) in message and "[detector]" in message
    assert "'min_emg_rate_h'" in message and "did you mean 'min_emg_rate_hz'" in message
    assert "\n" not in message


def test_unknown_section_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key 'detecter'; did you mean 'detector'"):
        load_settings(write(tmp_path, "[detecter]\n"))


def test_bool_is_not_an_int(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[mqtt\]: key 'port': expected an integer, got true"):
        load_settings(write(tmp_path, "[mqtt]\nport = true\n"))


def test_wrong_type_string_for_number(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="key 'min_emg_rate_hz': expected a number"):
        load_settings(write(tmp_path, '[detector]\nmin_emg_rate_hz = "fast"\n'))


def test_out_of_range(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="key 'port': 70000 is above the maximum 65535"):
        load_settings(write(tmp_path, "[mqtt]\nport = 70000\n"))


def test_literal_choice(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="key 'backend': expected one of"):
        load_settings(write(tmp_path, '[prompt]\nbackend = "loud"\n'))


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[mqtt\n"))
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_settings(tmp_path / "absent.toml")


def test_int_accepted_for_float_and_values_kept(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "[detector]\nmin_emg_rate_hz = 500\n"))
    assert settings.detector.min_emg_rate_hz == 500.0
    assert isinstance(settings.detector.min_emg_rate_hz, float)


def test_check_config_exit_codes(tmp_path: Path) -> None:
    bad = write(tmp_path, "[mqtt]\nprot = 1\n")
    result = subprocess.run(
        [sys.executable, "-m", "bedside.cli", "check-config", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == EX_CONFIG
    assert "did you mean 'port'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    good = subprocess.run(
        [
            sys.executable,
            "-m",
            "bedside.cli",
            "check-config",
            str(ROOT / "config" / "crampwatch.toml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert good.returncode == 0, good.stderr
