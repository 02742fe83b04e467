"""Settings of the bedside daemon itself: where it keeps its state, what it logs, recordings."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonSettings:
    state_dir: str = field(
        default="/var/lib/crampwatch",
        metadata={
            "doc": "Where recordings, the outbox, the event history and prompt WAVs are kept\n"
            "(systemd's StateDirectory)."
        },
    )
    record_sessions: bool = field(
        default=True,
        metadata={"doc": "Record every received notification to a power-cut-safe session file."},
    )
    recording_max_age_days: float = field(
        default=30.0,
        metadata={"doc": "Delete session recordings older than this (days).", "min": 1.0,
                  "max": 3650.0},
    )
    recording_max_total_mb: float = field(
        default=4000.0,
        metadata={"doc": "Keep all session recordings together under this size (MB); an 8-h\n"
                  "night is about 150 MB. Oldest are deleted first.", "min": 100.0,
                  "max": 1_000_000.0},
    )
    recording_min_free_mb: float = field(
        default=500.0,
        metadata={"doc": "Delete the oldest recordings while the disk has less free space (MB).",
                  "min": 0.0, "max": 100_000.0},
    )
    stats_interval_s: float = field(
        default=60.0,
        metadata={"doc": "Seconds between the statistics lines in the log.", "min": 1.0,
                  "max": 3600.0},
    )
    status_interval_s: float = field(
        default=5.0,
        metadata={"doc": "Seconds between signal-quality/status updates published over MQTT.",
                  "min": 0.5, "max": 600.0},
    )
    pipeline_stall_s: float = field(
        default=30.0,
        metadata={
            "doc": "The watchdog is withheld when packets wait this long unprocessed (a stuck\n"
            "pipeline); systemd then restarts the service.",
            "min": 5.0,
            "max": 600.0,
        },
    )
