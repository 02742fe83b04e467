"""Parse JSON that comes from outside, with bounds checked before the parser runs.

Every JSON crampwatch did not just write itself (session link events, events and labels files,
MQTT commands) goes through :func:`loads_bounded`, which turns every way such input can be
wrong into one exception, :class:`BadJsonError` (a ``ValueError``) with a short reason, so
each caller has exactly one "bad input" path and its counter::

    try:
        command = loads_object(payload, max_bytes=4096, max_depth=4)
    except BadJsonError as exc:
        self._bad_commands += 1
        log.warning("command refused: %s", exc.reason)  # a summary, never the payload

What it bounds, and why:

- **size** (``max_bytes``, UTF-8 bytes): checked first, on the raw length;
- **nesting depth** (``max_depth``: a scalar is 0, ``[]`` is 1, ``[[1]]`` is 2): a linear scan
  over the text that skips string contents and escapes runs *before* ``json.loads``, so the
  recursive stdlib parser never meets 60,000 ``[`` (it raises ``RecursionError``, not
  ``ValueError``, at about 1,000 levels);
- **integer digits** (``max_int_digits``, default 20: any int64, a microsecond timestamp): a
  400-digit ``ts`` raised ``OverflowError`` in ``datetime.fromtimestamp``, and past 4,300
  digits ``int()`` itself raises ``ValueError`` (CPython 3.11's int/str conversion limit,
  gh-95778, CVE-2020-10735);
- **non-finite numbers**: the tokens ``NaN``, ``Infinity``, ``-Infinity`` and floats that
  overflow to infinity (``1e400``) are refused unless ``allow_nonfinite=True``.

``object_hook`` is passed to ``json.loads``; a ``ValueError`` it raises becomes BadJsonError
too. :func:`loads_object` also requires the top level to be an object (a bare list, string or
number is refused). Stdlib only; never imports ``bedside``, ``detector`` or ``bleak``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

DEFAULT_MAX_INT_DIGITS = 20  # int64 is 19 digits and a sign; µs since 1970 are 16 digits

_SPECIAL = re.compile(r'[\\"\[\]{}]')  # the only characters the depth scan must look at
_NONFINITE = {"NaN", "Infinity", "-Infinity"}


class BadJsonError(ValueError):
    """Outside JSON that cannot be used; ``reason`` is short and never quotes the input."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def loads_bounded(
    data: bytes | bytearray | memoryview | str,
    *,
    max_bytes: int,
    max_depth: int,
    max_int_digits: int = DEFAULT_MAX_INT_DIGITS,
    allow_nonfinite: bool = False,
    object_hook: Callable[[dict[str, Any]], Any] | None = None,
) -> Any:
    """The JSON value in ``data`` (UTF-8 bytes or text), or BadJsonError (see the module doc)."""
    if max_bytes < 0 or max_depth < 0 or max_int_digits < 1:
        raise ValueError("max_bytes and max_depth must be >= 0, max_int_digits >= 1")
    text = _text(data, max_bytes)
    _check_depth(text, max_depth)

    def parse_int(token: str) -> int:
        if len(token.lstrip("-")) > max_int_digits:
            raise BadJsonError(f"an integer of more than {max_int_digits} digits")
        return int(token)

    def parse_float(token: str) -> float:
        value = float(token)
        if not allow_nonfinite and not math.isfinite(value):
            raise BadJsonError("a number too large for a float")
        return value

    def parse_constant(token: str) -> float:
        if not allow_nonfinite or token not in _NONFINITE:
            raise BadJsonError(f"{token} is not allowed")
        return float(token)

    try:
        return json.loads(
            text,
            parse_int=parse_int,
            parse_float=parse_float,
            parse_constant=parse_constant,
            object_hook=object_hook,
        )
    except BadJsonError:
        raise
    except json.JSONDecodeError as exc:
        raise BadJsonError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # an object_hook's ValueError; RecursionError/OverflowError only if a bound above is
        # wrong, kept so that even then the caller sees its one bad-input path
        raise BadJsonError(f"unusable value: {type(exc).__name__}") from None


def loads_object(data: bytes | bytearray | memoryview | str, **limits: Any) -> dict[str, Any]:
    """:func:`loads_bounded` (same keywords), and the top level must be a JSON object."""
    value = loads_bounded(data, **limits)
    if not isinstance(value, dict):
        raise BadJsonError(f"a JSON {_kind(value)}, expected an object")
    return value


def _text(data: bytes | bytearray | memoryview | str, max_bytes: int) -> str:
    if isinstance(data, str):
        # a character is at least one UTF-8 byte: no need to encode a huge text to refuse it
        if len(data) > max_bytes or len(data.encode("utf-8", "surrogatepass")) > max_bytes:
            raise BadJsonError(f"more than {max_bytes} bytes")
        return data
    if not isinstance(data, bytes | bytearray | memoryview):
        raise BadJsonError(f"a {type(data).__name__}, not bytes or text")
    raw = bytes(data)
    if len(raw) > max_bytes:
        raise BadJsonError(f"more than {max_bytes} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadJsonError("not UTF-8") from None


def _check_depth(text: str, max_depth: int) -> None:
    """BadJsonError if brackets outside strings nest deeper than ``max_depth``; linear time."""
    depth = 0
    in_string = False
    skip = -1  # position of a character escaped by a backslash
    for match in _SPECIAL.finditer(text):
        pos = match.start()
        if pos == skip:
            continue
        char = match.group()
        if in_string:
            if char == "\\":
                skip = pos + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > max_depth:
                raise BadJsonError(f"nested deeper than {max_depth} levels")
        elif char in "]}":
            depth -= 1  # unbalanced input is json.loads's to refuse


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"
