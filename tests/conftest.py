"""Shared fixtures: repository paths, the real recordings, a seeded ``rng``."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bedside.stream.records import EventRecord

ROOT = Path(__file__).resolve().parent.parent
REAL_DATA = ROOT.parent / "shared" / "data" / "real"


@pytest.fixture
def rng() -> Iterator[np.random.Generator]:
    yield np.random.default_rng(20261126)


@pytest.fixture
def real_data() -> Path:
    if not REAL_DATA.is_dir():
        pytest.fail(
            f"real recordings not found at {REAL_DATA} (the shared/ folder beside the repo)"
        )
    return REAL_DATA


def as_json(records: Iterable[EventRecord]) -> list[dict[str, Any]]:
    """Typed event records as their event JSON objects (docs/contracts.md), for assertions."""
    return [r.to_json() for r in records]


def record(fields: Mapping[str, Any]) -> EventRecord:
    """An :class:`EventRecord` from event JSON ``fields``, with what a test leaves out filled
    in (left leg, cramp 1, stream time 0, a fixed wall clock): the edge parser builds it, so a
    test event is as valid as a real one."""
    kind = str(fields.get("event", "cramp_started"))
    t = fields.get("t")
    t_ms = round(t * 1000) if isinstance(t, int | float) and math.isfinite(t) else 0
    suffix = f"update:{t_ms}" if kind == "cramp_update" else kind.removeprefix("cramp_")
    obj: dict[str, Any] = {
        "event": kind, "event_id": f"s:{fields.get('leg', 'left')}:1:{suffix}", "leg": "left",
        "t_onset": 0.0, "time": "2026-11-27T01:13:35.100+00:00", "intensity": None,
    }
    if kind in ("cramp_started", "cramp_update"):
        obj["t_detect"] = 0.0
    if kind in ("cramp_ended", "cramp_recorded"):
        obj |= {"t_end": 0.0, "duration_s": 0.0}
    return EventRecord.from_json(obj | dict(fields))
