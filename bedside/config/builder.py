"""Build frozen settings dataclasses from TOML tables, and render the commented example.

Every settings field carries ``metadata={"doc": ..., "min": ..., "max": ...}`` (min/max optional);
choices come from ``Literal[...]`` annotations. The builder rejects unknown keys (with the nearest
known name), wrong types (``true`` where an int is expected), NaN and infinities for floats and
out-of-range values, in one line that names the file, the section and the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, get_args, get_origin

from firmware_bridge.errors import ConfigError

T = TypeVar("T")


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(json.dumps(a) for a in get_args(tp))
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin is tuple:
        return f"array of {_type_name(get_args(tp)[0])}"
    if tp is type(None):
        return "unset"
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, where: str, path: str, section: str, key: str) -> Any:
    def fail(why: str) -> ConfigError:
        return ConfigError(f"{where}: key {key!r}: {why}", path=path, section=section, key=key)

    origin = get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        errors: list[str] = []
        for option in get_args(tp):
            if option is type(None):
                continue
            try:
                return _convert(value, option, where, path, section, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise fail(f"expected {_type_name(tp)}, got {json.dumps(value)}")
    if origin is Literal:
        if value not in get_args(tp) or isinstance(value, bool) != any(
            isinstance(a, bool) for a in get_args(tp)
        ):
            raise fail(f"expected one of {_type_name(tp)}, got {json.dumps(value)}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise fail(f"expected an array, got {json.dumps(value)}")
        item_tp = get_args(tp)[0]
        return tuple(_convert(v, item_tp, where, path, section, key) for v in value)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise fail(f"expected a table, got {json.dumps(value)}")
        return build(tp, value, path=path, section=f"{section}.{key}" if section else key)
    if tp is bool:
        if not isinstance(value, bool):
            raise fail(f"expected true or false, got {json.dumps(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(f"expected an integer, got {json.dumps(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(f"expected a number, got {json.dumps(value)}")
        # TOML has nan and inf; NaN passes every range check (each comparison is false), and
        # a NaN onset_ratio once left the detector finding nothing (issue #16 item 6)
        number = float(value) if isinstance(value, float) or abs(value) < 2**1000 else math.inf
        if not math.isfinite(number):
            raise fail(f"expected a finite number, got {number}")
        return number
    if tp is str:
        if not isinstance(value, str):
            raise fail(f"expected a string, got {json.dumps(value, default=str)}")
        return value
    raise TypeError(f"settings field {key!r} has unsupported type {tp!r}")  # our bug


def _check_range(value: Any, meta: Mapping[str, Any], fail: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | tuple):
        return
    items = value if isinstance(value, tuple) else (value,)
    for item in items:
        if not isinstance(item, int | float) or isinstance(item, bool):
            continue
        if "min" in meta and item < meta["min"]:
            raise fail(f"{item} is below the minimum {meta['min']}")
        if "max" in meta and item > meta["max"]:
            raise fail(f"{item} is above the maximum {meta['max']}")


def build(
    cls: type[T], table: Mapping[str, Any], *, path: str = "<config>", section: str = ""
) -> T:
    """Build ``cls`` (a frozen dataclass) from a TOML table; ``ConfigError`` on any mistake."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    where = f"{path}: [{section}]" if section else path
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in table:
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
            hint = (
                f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(fields)}"
            )
            raise ConfigError(
                f"{where}: unknown key {key!r}{hint}", path=path, section=section, key=key
            )
    kwargs: dict[str, Any] = {}
    for name, field in fields.items():
        if name not in table:
            continue
        value = _convert(table[name], hints[name], where, path, section, name)

        def fail(why: str, name: str = name) -> ConfigError:
            return ConfigError(
                f"{where}: key '{name}': {why}", path=path, section=section, key=name
            )

        _check_range(value, field.metadata, fail)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except ValueError as exc:  # cross-field checks in __post_init__
        raise ConfigError(f"{where}: {exc}", path=path, section=section) from exc


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value)


def render_example(cls: type[Any], *, section: str = "") -> str:
    """The commented TOML example of every key of ``cls`` with its default value."""
    hints = typing.get_type_hints(cls)
    lines: list[str] = []
    nested: list[str] = []
    if section:
        lines.append(f"[{section}]")
    for field in dataclasses.fields(cls):
        tp = hints[field.name]
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            nested.append(render_example(tp, section=f"{section}.{field.name}".strip(".")))
            continue
        doc = field.metadata.get("doc", "")
        if not doc:
            raise TypeError(f"settings field {cls.__name__}.{field.name} has no doc")  # our bug
        for doc_line in doc.split("\n"):
            lines.append(f"# {doc_line}".rstrip())
        limits = [f"type: {_type_name(tp)}"]
        if "min" in field.metadata:
            limits.append(f"min {field.metadata['min']}")
        if "max" in field.metadata:
            limits.append(f"max {field.metadata['max']}")
        lines.append(f"# ({', '.join(limits)})")
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            raise TypeError(f"settings field {cls.__name__}.{field.name} has no default")
        if default is None:
            lines.append(f"# {field.name} =  (unset by default)")
        else:
            lines.append(f"{field.name} = {_toml_value(default)}")
        lines.append("")
    text = "\n".join(lines).rstrip() + "\n"
    return "\n".join([text, *nested]) if nested else text
