"""Calibration files: ``detector.calibration.Calibration`` as JSON, one per leg.

The daemon looks for ``<state_dir>/calibration-<leg>.json`` when a wearable connects and seeds
that leg's detector with it; ``crampwatch calibrate`` writes it there by default. The file is
written to a temporary name and renamed, so a power cut leaves the old file or the new one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bedside.stream.records import load_json_file
from detector.calibration import Calibration, CalibrationError
from firmware_bridge.errors import InputError


def calibration_path(state_dir: str | os.PathLike[str], leg: str) -> Path:
    """Where the daemon looks for ``leg``'s calibration."""
    return Path(state_dir) / f"calibration-{leg}.json"


def load_calibration(path: str | os.PathLike[str]) -> Calibration:
    """Read a calibration file; :class:`InputError` with one line naming what is wrong."""
    p = Path(path)
    try:
        data: Any = load_json_file(p)
    except InputError as exc:
        if isinstance(exc.__cause__, FileNotFoundError):
            raise InputError(f"{p}: no such calibration file", path=str(p)) from exc
        raise
    if not isinstance(data, dict):
        raise InputError(f"{p}: a calibration file holds a JSON object", path=str(p))
    try:
        return Calibration.from_dict(data)
    except CalibrationError as exc:
        raise InputError(f"{p}: {exc}", path=str(p)) from exc


def save_calibration(path: str | os.PathLike[str], calibration: Calibration,
                     **about: Any) -> Path:
    """Write ``calibration`` (plus ``about``: where and when it was measured) atomically."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = p.with_name(p.name + ".tmp")
    body = {**calibration.as_dict(), **about}
    # 0600 whatever the umask: a calibration is health data like the recordings
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(json.dumps(body, indent=2) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, p)
    return p
