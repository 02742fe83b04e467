"""Recording retention: oldest first, by age, size budget and free disk; never the live file."""

from __future__ import annotations

import os
from pathlib import Path

from bedside.live.retention import MB, prune_recordings

NOW = 1_800_000_000.0
DAY = 86400.0


def make(directory: Path, name: str, size_mb: float, age_days: float) -> Path:
    path = directory / f"{name}.cwsession"
    path.write_bytes(b"\0" * int(size_mb * MB))
    os.utime(path, (NOW - age_days * DAY, NOW - age_days * DAY))
    return path


def plenty(_path: Path) -> int:
    return 10_000 * MB


def test_age_limit_deletes_only_old_files(tmp_path: Path) -> None:
    old = make(tmp_path, "a", 1, 40)
    recent = make(tmp_path, "b", 1, 2)
    result = prune_recordings(
        tmp_path,
        max_age_days=30,
        max_total_mb=100,
        min_free_mb=0,
        now=lambda: NOW,
        free_bytes=plenty,
    )
    assert result.deleted == (old,)
    assert recent.exists() and not old.exists()
    assert result.freed_bytes == MB and result.kept == 1


def test_size_budget_deletes_oldest_first(tmp_path: Path) -> None:
    files = [make(tmp_path, f"n{i}", 2, 10 - i) for i in range(5)]  # 10 MB, n0 oldest
    result = prune_recordings(
        tmp_path,
        max_age_days=365,
        max_total_mb=5,
        min_free_mb=0,
        now=lambda: NOW,
        free_bytes=plenty,
    )
    assert result.deleted == tuple(files[:3])
    assert result.kept_bytes == 4 * MB


def test_low_disk_deletes_until_enough_is_free(tmp_path: Path) -> None:
    files = [make(tmp_path, f"n{i}", 3, 10 - i) for i in range(4)]
    result = prune_recordings(
        tmp_path,
        max_age_days=365,
        max_total_mb=1000,
        min_free_mb=5,
        now=lambda: NOW,
        free_bytes=lambda _p: 0,
    )
    assert result.deleted == tuple(files[:2])  # 6 MB freed ≥ 5 MB wanted


def test_the_file_being_written_is_never_deleted(tmp_path: Path) -> None:
    live = make(tmp_path, "live", 50, 100)
    other = make(tmp_path, "other", 1, 100)
    result = prune_recordings(
        tmp_path,
        max_age_days=1,
        max_total_mb=1,
        min_free_mb=10**6,
        keep=[live],
        now=lambda: NOW,
        free_bytes=lambda _p: 0,
    )
    assert result.deleted == (other,)
    assert live.exists()


def test_missing_directory_and_other_files_are_left_alone(tmp_path: Path) -> None:
    assert (
        prune_recordings(tmp_path / "absent", max_age_days=1, max_total_mb=1, min_free_mb=0).deleted
        == ()
    )
    note = tmp_path / "notes.txt"
    note.write_text("mine")
    os.utime(note, (0, 0))
    prune_recordings(tmp_path, max_age_days=1, max_total_mb=1, min_free_mb=0, free_bytes=plenty)
    assert note.exists()
