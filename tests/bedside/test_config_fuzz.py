"""Fuzzed configuration: any TOML text or table gives Settings or a one-line ConfigError."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
import tomllib
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bedside.config.builder import build
from bedside.config.settings import Settings, load_settings
from firmware_bridge.errors import ConfigError

SECTIONS = {  # [[wearable]] tables (Settings.wearables): test_config_wearables.py fuzzes them
    name: tp for name, tp in typing.get_type_hints(Settings).items() if dataclasses.is_dataclass(tp)
}
KEYS = sorted({f.name for tp in SECTIONS.values() for f in dataclasses.fields(tp)})

scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
section_tables = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), values, max_size=4)
tables = st.dictionaries(
    st.sampled_from(sorted(SECTIONS)) | st.text(max_size=8), section_tables | values, max_size=4
)


def one_line(exc: ConfigError) -> None:
    assert str(exc) and "\n" not in str(exc)


@settings(max_examples=400, deadline=None)
@given(tables)
def test_any_table_builds_or_is_refused_in_one_line(table: dict[str, Any]) -> None:
    try:
        built = build(Settings, table, path="fuzz.toml")
    except ConfigError as exc:
        one_line(exc)
        return
    check_bounds(built)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_file_content_loads_or_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fuzz.toml"
    path.write_bytes(content)
    try:
        load_settings(path)
    except ConfigError as exc:
        assert str(path) in str(exc)


def check_bounds(obj: object, where: str = "") -> None:
    """Every float is finite and every number within its field's documented min/max."""
    assert dataclasses.is_dataclass(obj)
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        name = f"{where}.{f.name}"
        if dataclasses.is_dataclass(value):
            check_bounds(value, name)
            continue
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, bool) or not isinstance(item, int | float):
                continue
            assert math.isfinite(item), f"{name} = {item}"
            if "min" in f.metadata:
                assert item >= f.metadata["min"], f"{name} = {item}"
            if "max" in f.metadata:
                assert item <= f.metadata["max"], f"{name} = {item}"


numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), 0.0, -0.0, 1e308]),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=3),
)


@settings(max_examples=600, deadline=None)
@given(section=st.sampled_from(sorted(SECTIONS)), data=st.data())
def test_every_accepted_value_is_within_the_documented_bounds(section: str,
                                                              data: st.DataObject) -> None:
    names = [f.name for f in dataclasses.fields(SECTIONS[section])]
    table = data.draw(st.dictionaries(st.sampled_from(names), numbers, max_size=3))
    try:
        built = build(Settings, {section: table}, path="fuzz.toml")
    except ConfigError as exc:
        one_line(exc)
        return
    check_bounds(built)


@pytest.mark.parametrize("value", ["nan", "+nan", "-nan", "inf", "-inf"])
def test_nan_and_infinity_are_refused_for_every_float_setting(value: str) -> None:
    for section, tp in SECTIONS.items():
        hints = typing.get_type_hints(tp)
        for f in dataclasses.fields(tp):
            if hints[f.name] not in (float, float | None):
                continue
            toml = tomllib.loads(f"[{section}]\n{f.name} = {value}\n")
            with pytest.raises(ConfigError) as err:
                build(Settings, toml, path="my.toml")
            assert str(err.value).startswith(f"my.toml: [{section}]: key '{f.name}': "), err.value
            assert "finite" in str(err.value)
            one_line(err.value)


def test_check_config_refuses_a_nan_onset_ratio_with_exit_78(tmp_path: Path) -> None:
    path = tmp_path / "crampwatch.toml"
    path.write_text("[detector]\nonset_ratio = nan\n")
    result = subprocess.run([sys.executable, "-m", "bedside.cli", "check-config", str(path)],
                            capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 78, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"{path}: [detector]: key 'onset_ratio'" in result.stderr
