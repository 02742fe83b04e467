"""Night simulator: physiologically grounded synthetic nights with ground truth.

Public API: :func:`plan_night`, :func:`render_chunks`, :func:`render_window`,
:func:`write_night`, :class:`NightPlan`, ``PROFILES``, ``FAMILIES`` (cramp families). Constants cite
``shared/notes/physiology.md``. Imports numpy and the rest of ``firmware_bridge`` only;
never ``bedside``, ``detector`` or scipy.
"""

from __future__ import annotations

from firmware_bridge.simulation.families import FAMILIES
from firmware_bridge.simulation.night import (
    TRUTH_FORMAT,
    NightPlan,
    plan_night,
    render_chunks,
    render_window,
    truth_path,
    write_night,
)
from firmware_bridge.simulation.schedule import PROFILES, SHORT_CRAMP_S

__all__ = [
    "FAMILIES",
    "PROFILES",
    "SHORT_CRAMP_S",
    "TRUTH_FORMAT",
    "NightPlan",
    "plan_night",
    "render_chunks",
    "render_window",
    "truth_path",
    "write_night",
]
