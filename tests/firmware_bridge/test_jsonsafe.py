"""``loads_bounded``: what it accepts is a bounded JSON value; anything else is BadJsonError."""

from __future__ import annotations

import contextlib
import json
import math
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.jsonsafe import BadJsonError, loads_bounded, loads_object

LIMITS: dict[str, Any] = {"max_bytes": 4096, "max_depth": 8}

scalars = (st.none() | st.booleans() | st.integers(-(10**19), 10**19)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


def depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


def bounded(value: object, max_depth: int, max_digits: int = 20) -> bool:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int):
        return len(str(abs(value))) <= max_digits
    if isinstance(value, float):
        return math.isfinite(value)
    assert isinstance(value, list | dict)
    children = list(value.values()) if isinstance(value, dict) else value
    return depth(value) <= max_depth and all(bounded(v, max_depth) for v in children)


@settings(max_examples=300, deadline=None)
@given(value=values)
def test_bounded_values_round_trip(value: object) -> None:
    text = json.dumps(value)
    if len(text.encode()) <= LIMITS["max_bytes"] and depth(value) <= LIMITS["max_depth"]:
        assert loads_bounded(text, **LIMITS) == value
        assert loads_bounded(text.encode(), **LIMITS) == value
    else:
        with pytest.raises(BadJsonError):
            loads_bounded(text, **LIMITS)


json_like = st.lists(st.sampled_from(['[', ']', '{', '}', '"', '\\', ':', ',', '1', '-', 'e9',
                                      '"a"', 'NaN', 'Infinity', '-Infinity', '1e400', 'null',
                                      'true', ' ', '9' * 30, '\\"', '\\\\', '\\u00e9']),
                     max_size=60).map("".join)


@settings(max_examples=1000, deadline=None)
@given(data=json_like | st.text(max_size=200) | st.binary(max_size=200).map(repr))
def test_anything_is_a_bounded_value_or_bad_json(data: str) -> None:
    for raw in (data, data.encode("utf-8", "surrogatepass")):
        try:
            value = loads_bounded(raw, max_bytes=4096, max_depth=3)
        except BadJsonError as exc:
            assert exc.reason and "\n" not in exc.reason
            continue
        assert bounded(value, 3)
        json.dumps(value, allow_nan=False)  # a valid JSON value, finite


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_bytes_never_raise_anything_else(data: bytes) -> None:
    with contextlib.suppress(BadJsonError):
        loads_bounded(data, max_bytes=256, max_depth=4)


@pytest.mark.parametrize("text", ["[" * 200_000, '{"a":' * 100_000, "[" * 50 + "]" * 50])
def test_deep_nesting_is_refused_before_the_parser_recurses(text: str) -> None:
    t0 = time.perf_counter()
    with pytest.raises(BadJsonError, match="nested deeper than 16 levels"):
        loads_bounded(text, max_bytes=10**6, max_depth=16)
    assert time.perf_counter() - t0 < 1.0


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"a": "[[[[[[{{{{\\\"[[[[", "b": ["\\", "\"[["]})
    assert loads_bounded(text, max_bytes=1000, max_depth=2) == json.loads(text)


@pytest.mark.parametrize(("text", "reason"), [
    ('{"ts": ' + "9" * 400 + "}", "more than 20 digits"),
    ('{"ts": -' + "9" * 5000 + "}", "more than 20 digits"),
    ('{"ts": 1e400}', "too large for a float"),
    ('{"x": NaN}', "NaN is not allowed"),
    ('[-Infinity]', "-Infinity is not allowed"),
    ("", "not JSON"),
    ("\ud800", "not JSON"),
])
def test_numbers_and_junk_are_refused_with_a_short_reason(text: str, reason: str) -> None:
    with pytest.raises(BadJsonError, match=reason):
        loads_bounded(text, max_bytes=10**5, max_depth=4)


def test_size_is_checked_first_and_nonfinite_only_when_asked() -> None:
    with pytest.raises(BadJsonError, match="more than 10 bytes"):
        loads_bounded(b" " * 11, max_bytes=10, max_depth=1)
    with pytest.raises(BadJsonError, match="more than 10 bytes"):
        loads_bounded("é" * 6, max_bytes=10, max_depth=1)  # 6 characters, 12 UTF-8 bytes
    with pytest.raises(BadJsonError, match="not UTF-8"):
        loads_bounded(b'"\xff"', max_bytes=10, max_depth=1)
    value = loads_bounded("[NaN, Infinity, 1e400]", max_bytes=100, max_depth=1,
                          allow_nonfinite=True)
    assert math.isnan(value[0]) and value[1:] == [math.inf, math.inf]


def test_loads_object_refuses_other_top_levels_and_maps_hook_errors() -> None:
    for text, kind in (("[1]", "array"), ('"x"', "string"), ("3", "number"), ("null", "null")):
        with pytest.raises(BadJsonError, match=f"a JSON {kind}, expected an object"):
            loads_object(text, max_bytes=100, max_depth=2)

    def hook(obj: dict[str, Any]) -> object:
        return bytes.fromhex(obj["hex"]) if "hex" in obj else obj

    with pytest.raises(BadJsonError, match="unusable value: ValueError"):
        loads_object('{"a": {"hex": "zz"}}', max_bytes=100, max_depth=2, object_hook=hook)
    assert loads_object('{"a": {"hex": "ff"}}', max_bytes=100, max_depth=2,
                        object_hook=hook) == {"a": b"\xff"}
