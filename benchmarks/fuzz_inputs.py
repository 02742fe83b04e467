"""Hostile-input fuzz: crafted EDF headers, session files and outside JSON through the real CLI.

Run as ``python -m benchmarks.fuzz_inputs --cases N [--seed S] [--timeout T]``. Each case is a
file written into a temporary directory and replayed by ``crampwatch replay`` in a subprocess
(bounded address space, per-case timeout); JSON payloads go straight through
``firmware_bridge.jsonsafe.loads_bounded``. A case fails if it prints a traceback, hangs (hits
the timeout) or exits with anything but 0 (a usable file) or 65 (bad input data). The table
counts cases, tracebacks, hangs and unexpected exit codes per family.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

from firmware_bridge.edf import HEADER_BYTES, SIGNAL_FIELDS, EdfSignalSpec, EdfWriter

START = datetime(2026, 1, 2, 22, 0, 0)


def small_edf(path: Path, *, seconds: int = 20, seed: int = 0) -> Path:
    """A valid EDF+ of ``seconds`` s: one EMG channel at 1000 Hz (µV), Accel X/Y/Z at 50 Hz (g)."""
    rng = np.random.default_rng(seed)
    specs = [EdfSignalSpec("EMG calf", "uV", 1000.0, -5000.0, 5000.0)] + [
        EdfSignalSpec(f"Accel {axis}", "g", 50.0, -8.0, 8.0) for axis in "XYZ"
    ]
    data = [rng.normal(0.0, 20.0, 1000 * seconds)] + [
        rng.normal(0.0, 0.01, 50 * seconds) + (1.0 if axis == "Z" else 0.0) for axis in "XYZ"
    ]
    with EdfWriter(path, specs, start=START) as writer:
        writer.write(data)
    return path


def _put(raw: bytearray, offset: int, width: int, text: str) -> None:
    raw[offset : offset + width] = text.encode("latin-1")[:width].ljust(width, b" ")


def patch_fixed(source: Path, target: Path, field: tuple[int, int], text: str) -> Path:
    """Copy ``source`` to ``target`` with fixed-header field ``(offset, width)`` set to ``text``."""
    raw = bytearray(source.read_bytes())
    _put(raw, field[0], field[1], text)
    target.write_bytes(bytes(raw))
    return target


def patch_signal(source: Path, target: Path, name: str, index: int, text: str) -> Path:
    """Copy ``source`` to ``target`` with signal ``index``'s header field ``name`` = ``text``."""
    raw = bytearray(source.read_bytes())
    ns = int(raw[252:256].decode("ascii"))
    offset = HEADER_BYTES
    for field_name, width in SIGNAL_FIELDS:
        if field_name == name:
            _put(raw, offset + index * width, width, text)
            break
        offset += width * ns
    else:
        raise ValueError(f"no signal field {name!r}")
    target.write_bytes(bytes(raw))
    return target
