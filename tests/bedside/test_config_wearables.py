"""Two wearables as ``[[wearable]]`` tables: loading, and check-config's one-line refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bedside.config.settings import LegWearable, Settings, load_settings, settings_from_table
from bedside.live.service import wearable_specs
from firmware_bridge.errors import ConfigError
from firmware_bridge.link_settings import WearableSettings

CRAMPWATCH = str(Path(sys.executable).with_name("crampwatch"))

TWO_LEGS = """\
[[wearable]]
leg = "left"
address = "C0:98:E5:00:00:01"
battery_poll_s = 60.0

[[wearable]]
leg = "right"
address = "C0:98:E5:00:00:02"
"""


def check_config(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return subprocess.run(
        [CRAMPWATCH, "check-config", str(path)], capture_output=True, text=True, check=False,
        timeout=60,
    )


def test_two_wearable_tables_load_with_their_own_link_settings(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(TWO_LEGS)
    settings = load_settings(path)
    left, right = settings.legs()
    assert (left.leg, left.link.address, left.link.battery_poll_s) == (
        "left", "C0:98:E5:00:00:01", 60.0)
    assert (right.leg, right.link.address) == ("right", "C0:98:E5:00:00:02")
    assert right.link.battery_poll_s == WearableSettings().battery_poll_s  # defaults per table
    assert settings.wearable == left.link  # commands that take one wearable get the first
    specs = wearable_specs(settings)
    assert [(s.label, s.mqtt_leg, s.address) for s in specs] == [
        ("left", "left", "C0:98:E5:00:00:01"), ("right", "right", "C0:98:E5:00:00:02")]
    assert check_config(tmp_path, TWO_LEGS).returncode == 0


def test_one_wearable_table_is_one_unnamed_wearable() -> None:
    settings = Settings()
    assert settings.legs() == (LegWearable("", WearableSettings()),)
    [spec] = wearable_specs(settings)
    assert (spec.label, spec.mqtt_leg) == ("wearable", "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[wearable]]\naddress = "A"\n', "key 'leg' is missing"),
        ('[[wearable]]\nleg = "middle"\n', "expected \"left\" or \"right\""),
        ('[[wearable]]\nleg = "left"\naddress = "A"\n[[wearable]]\nleg = "left"\naddress = "B"\n',
         "two tables for the left leg"),
        ('[[wearable]]\nleg = "left"\naddress = "aa"\n'
         '[[wearable]]\nleg = "right"\naddress = "AA"\n',
         "would both connect to AA"),
        ('[[wearable]]\nleg = "left"\n[[wearable]]\nleg = "right"\n', "give each its own"),
        ('[[wearable]]\nleg = "left"\nadress = "A"\n', "did you mean 'address'"),
        ('[[wearable]]\nleg = "left"\nbattery_poll_s = 1.0\n', "below the minimum"),
        ('wearable = [1, 2]\n', "[[wearable]] tables"),
        ('[daemon]\nsecond_wearable_address = "B"\n', "is gone: describe each wearable"),
        ('[[wearables]]\nleg = "left"\n', "did you mean [[wearable]]"),
    ],
)
def test_check_config_refuses_bad_wearable_tables_in_one_line(
    tmp_path: Path, text: str, message: str
) -> None:
    done = check_config(tmp_path, text)
    assert done.returncode == 78, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert message in line and "c.toml" in line


wearable_keys = st.sampled_from(["leg", "address", "name", "battery_poll_s", "queue_packets", "x"])
wearable_values = st.one_of(
    st.sampled_from(["left", "right", "", "AA:BB", "aa:bb"]), st.text(max_size=6),
    st.integers(-5, 10**6), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.lists(st.integers(), max_size=2),
)
wearable_tables = st.dictionaries(wearable_keys, wearable_values, max_size=4)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.lists(wearable_tables, max_size=3), wearable_tables, wearable_values))
def test_any_wearable_value_gives_settings_or_one_line(wearable: object) -> None:
    try:
        built = settings_from_table({"wearable": wearable}, path="fuzz.toml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.toml") and "\n" not in str(exc)
        return
    legs = built.legs()
    assert legs and built.wearable == legs[0].link
    if isinstance(wearable, list):  # [[wearable]] tables: distinct legs, each left or right
        assert [w.leg for w in legs] == [t["leg"] for t in wearable]
        assert len({w.leg for w in legs}) == len(legs) and {w.leg for w in legs} <= {
            "left", "right"}
