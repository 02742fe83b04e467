"""Session file speed and size against real time (a floor; ``pytest -s`` prints the numbers)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from firmware_bridge.recording import Notification, SessionWriter, read_session

NOTIFICATIONS_PER_S = 20  # PROTOCOL.md §5: 5 blocks of 10 ms per notification
NIGHT_S = 8 * 3600


def test_recording_keeps_up_and_an_8_h_night_reads_in_seconds(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    n = 36_000  # 30 minutes at 20 notifications/s, 2 channels x 50 samples: 230 bytes each
    payload = rng.bytes(230)
    path = tmp_path / "s.cws"
    t0 = time.perf_counter()
    with SessionWriter(path, session_start=datetime.now(UTC)) as writer:
        for i in range(n):
            writer.notification(payload, i / NOTIFICATIONS_PER_S)
    t_write = time.perf_counter() - t0
    t0 = time.perf_counter()
    count = sum(1 for r in read_session(path) if isinstance(r, Notification))
    t_read = time.perf_counter() - t0
    assert count == n
    size = path.stat().st_size
    night = NIGHT_S * NOTIFICATIONS_PER_S / n
    print(
        f"\nrecording: write {n / t_write:.0f} records/s, read {n / t_read:.0f} records/s, "
        f"{size / n:.0f} B per record; 8 h night ≈ {size * night / 1e6:.0f} MB, "
        f"read in ≈ {t_read * night:.0f} s"
    )
    assert size == 24 + n * (8 + 16 + 230 + 4) + (8 + 16 + 4)  # header, records, clean end
    assert n / t_write > 50 * NOTIFICATIONS_PER_S
    assert t_read * night < 300  # an 8-hour night replays its raw file in minutes at worst
