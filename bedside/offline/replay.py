"""Replay of one night (EDF/BDF or session file) through the production wiring: what ``tune``,
``label`` and ``report`` share. EDF files go through ``bedside.stream.edf_feed``, session files
through ``bedside.stream.session_feed`` (the live worker's feed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bedside.stream.build import detector_factory
from bedside.stream.edf_feed import replay_file
from bedside.stream.records import EventRecord
from bedside.stream.session_feed import replay_session
from detector.settings import DetectorSettings
from firmware_bridge.recording import is_session_file


@dataclass(frozen=True, slots=True, kw_only=True)
class NightReplay:
    """Events of one replayed night; ``start`` is stream time 0's wall clock."""

    path: Path
    session_id: str
    start: datetime
    duration_s: float
    events: list[EventRecord]


def replay_night(
    path: Path,
    settings: DetectorSettings,
    *,
    leg: str | None = None,
    wrap: Callable[[Any, float, float], Any] | None = None,
) -> NightReplay:
    """Replay ``path`` (EDF/BDF or session recording) through the production pipeline.

    ``wrap(detector, emg_rate_hz, accel_rate_hz) -> detector`` may wrap each detector built
    (the report's tracer).
    Raises :class:`InputError` for unusable files.
    """
    inner = detector_factory(settings)

    def make(**kwargs: Any) -> Any:
        detector = inner(**kwargs)
        if wrap is None:
            return detector
        return wrap(detector, float(kwargs["emg_rate_hz"]), float(kwargs["accel_rate_hz"]))

    if is_session_file(path):
        s = replay_session(path, make_detector=make, leg=leg)
        return NightReplay(
            path=path, session_id=s.session_id, start=s.start, duration_s=s.duration_s,
            events=s.events,
        )
    r = replay_file(
        path, make_detector=make, leg=leg or "left", min_emg_rate_hz=settings.min_emg_rate_hz
    )
    return NightReplay(
        path=path, session_id=r.session_id, start=r.start, duration_s=r.duration_s,
        events=r.events,
    )
