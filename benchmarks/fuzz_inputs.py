"""Hostile-input fuzz: crafted EDF headers, session files and outside JSON through the real CLI.

Run as ``python -m benchmarks.fuzz_inputs --cases N [--seed S] [--timeout T]``. Each case is a
file written into a temporary directory and replayed by ``crampwatch replay`` in a subprocess
(bounded address space, per-case timeout); JSON payloads go straight through
``firmware_bridge.jsonsafe.loads_bounded``. A case fails if it prints a traceback, hangs (hits
the timeout) or exits with anything but 0 (a usable file) or 65 (bad input data). The table
counts cases, tracebacks, hangs and unexpected exit codes per family.
"""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from firmware_bridge.edf import HEADER_BYTES, SIGNAL_FIELDS, EdfSignalSpec, EdfWriter
from firmware_bridge.recording import (
    FILE_MAGIC,
    FORMAT_VERSION,
    RECORD_LINK_EVENT,
    RECORD_NOTIFICATION,
    RECORD_SYNC,
)

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


# -- session files: the layout of firmware_bridge/recording.py's docstring, written by hand so a
# case can hold what SessionWriter refuses to write (bad JSON with a valid CRC) ----------------
def session_header(start: datetime = START) -> bytes:
    """The 24-byte file header: magic, version 1, header size 24, start (µs), CRC-32."""
    start_us = round(start.replace(tzinfo=UTC).timestamp() * 1e6)
    head = FILE_MAGIC + struct.pack("<HHq", FORMAT_VERSION, 24, start_us)
    return head + (zlib.crc32(head) & 0xFFFFFFFF).to_bytes(4, "little")


def session_record(kind: int, payload: bytes, t_mono: float = 0.0, wall_us: int = 0) -> bytes:
    """One framed record (sync, type, 0, length, times + payload, CRC-32) with a valid CRC."""
    body = struct.pack("<dq", t_mono, wall_us) + payload
    record = RECORD_SYNC + struct.pack("<BBI", kind, 0, len(body)) + body
    return record + (zlib.crc32(record) & 0xFFFFFFFF).to_bytes(4, "little")


def link_event_record(payload: bytes, t_mono: float = 0.0) -> bytes:
    """A link-event record whose JSON body is ``payload`` exactly (valid or not)."""
    return session_record(RECORD_LINK_EVENT, payload, t_mono)


def notification_record(data: bytes, t_mono: float = 0.0) -> bytes:
    return session_record(RECORD_NOTIFICATION, data, t_mono)
