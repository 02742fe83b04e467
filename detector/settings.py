"""Detector settings: every threshold with its meaning, unit in the name, and range.

Defaults are what the benchmarks chose (see BENCHMARKS.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectorSettings:
    min_emg_rate_hz: float = field(
        default=400.0,
        metadata={
            "doc": "Refuse EMG sampled slower than this (Hz): the EMG band needs it.",
            "min": 200.0,
            "max": 10000.0,
        },
    )
