"""Fuzzed configuration: any TOML text or table gives Settings or a one-line ConfigError."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

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
        build(Settings, table, path="fuzz.toml")
    except ConfigError as exc:
        one_line(exc)


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
