"""Recording retention: never fill the SD card.

Session files (``*.cwsession`` in the state directory's ``sessions/``) are deleted oldest first
while any of these holds: older than ``max_age_days``; together larger than ``max_total_mb``; the
filesystem has less than ``min_free_mb`` free. The file being written is never deleted.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class PruneResult:
    deleted: tuple[Path, ...]
    freed_bytes: int
    kept: int
    kept_bytes: int


def prune_recordings(
    directory: Path,
    *,
    max_age_days: float,
    max_total_mb: float,
    min_free_mb: float,
    keep: Iterable[Path] = (),
    now: Callable[[], float] = time.time,
    free_bytes: Callable[[Path], int] | None = None,
) -> PruneResult:
    """Delete old session files as the module docstring says; return what was done."""
    if not directory.is_dir():
        return PruneResult((), 0, 0, 0)
    protected = {p.resolve() for p in keep}
    free = free_bytes or (lambda path: shutil.disk_usage(path).free)
    files = []
    for path in directory.glob("*.cwsession"):
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        files.append((st.st_mtime, st.st_size, path))
    files.sort()  # oldest first
    total = sum(size for _, size, _ in files)
    deleted: list[Path] = []
    freed = 0
    cutoff = now() - max_age_days * 86400.0
    free_now = free(directory)
    for mtime, size, path in files:
        if path.resolve() in protected:
            continue
        too_old = mtime < cutoff
        too_big = total - freed > max_total_mb * MB
        too_full = free_now + freed < min_free_mb * MB
        if not (too_old or too_big or too_full):
            break  # the rest are newer: nothing more is due
        try:
            path.unlink()
        except OSError as exc:
            log.warning("retention: cannot delete %s: %s", path, exc)
            continue
        deleted.append(path)
        freed += size
        why = "too old" if too_old else "over the size budget" if too_big else "disk low"
        log.info("retention: deleted %s (%.1f MB, %s)", path.name, size / MB, why)
    kept = len(files) - len(deleted)
    return PruneResult(tuple(deleted), freed, kept, total - freed)
