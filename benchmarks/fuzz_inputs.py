"""Hostile-input fuzz: crafted EDF headers, session files and outside JSON through the real CLI.

Run as ``python -m benchmarks.fuzz_inputs --cases N [--seed S] [--timeout T]``. Each case is a
file written into a temporary directory and replayed by ``crampwatch replay`` in a subprocess
(bounded address space, per-case timeout); JSON payloads go straight through
``firmware_bridge.jsonsafe.loads_bounded``. A case fails if it prints a traceback, hangs (hits
the timeout) or exits with anything but 0 (a usable file) or 65 (bad input data). The table
counts cases, tracebacks, hangs and unexpected exit codes per family.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import random
import resource
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from firmware_bridge.codec import Encoder
from firmware_bridge.edf import (
    HEADER_BYTES,
    N_HEADER_BYTES,
    N_RECORDS,
    N_SIGNALS,
    RECORD_DURATION,
    RESERVED,
    SIGNAL_FIELDS,
    START_DATE,
    START_TIME,
    VERSION,
    EdfSignalSpec,
    EdfWriter,
)
from firmware_bridge.jsonsafe import BadJsonError, loads_bounded
from firmware_bridge.protocol import DeviceInfo, Site, accel_span
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


def device_info_record(data: bytes) -> bytes:
    """The ``device_info`` link event session replay decodes with (bytes as ``$bytes`` hex)."""
    event = {"kind": "device_info", "fields": {"data": {"$bytes": data.hex()}}}
    return link_event_record(json.dumps(event).encode())


# -- case generators: each writes one hostile input into ``tmp`` and returns its path ---------
LYING_NUMBERS = (
    "0", "-1", "-0", "0.000001", "1e-9", "0.00001", "1e9", "99999999", "1e308", "nan", "inf",
    "-inf", "", "abc", "1,5", "0x10", "+1", " 1 2", "\x00\x01", "9" * 8, "0.1", "1000",
)
FIXED_FIELDS = (VERSION, START_DATE, START_TIME, N_HEADER_BYTES, RESERVED, N_RECORDS,
                RECORD_DURATION, N_SIGNALS)
SIGNAL_NUMBER_FIELDS = ("physical_min", "physical_max", "digital_min", "digital_max",
                        "samples_per_record", "label", "unit")


def edf_case(rng: random.Random, tmp: Path, good: Path) -> Path:
    """A small EDF with a lying header field, a truncation, flipped bytes or random bytes."""
    out = tmp / "case.edf"
    kind = rng.randrange(6)
    if kind == 0:
        return patch_fixed(good, out, rng.choice(FIXED_FIELDS), rng.choice(LYING_NUMBERS))
    if kind == 1:
        return patch_signal(good, out, rng.choice(SIGNAL_NUMBER_FIELDS), rng.randrange(4),
                            rng.choice(LYING_NUMBERS))
    raw = bytearray(good.read_bytes())
    if kind == 2:  # two lies at once: a duration and a count
        patch_fixed(good, out, RECORD_DURATION, rng.choice(LYING_NUMBERS))
        return patch_signal(out, out, "samples_per_record", rng.randrange(4),
                            rng.choice(LYING_NUMBERS))
    if kind == 3:
        out.write_bytes(bytes(raw[: rng.randrange(len(raw))]))
    elif kind == 4:
        for _ in range(rng.randrange(1, 20)):
            raw[rng.randrange(HEADER_BYTES * 5)] = rng.randrange(256)
        out.write_bytes(bytes(raw))
    else:
        out.write_bytes(rng.randbytes(rng.choice((0, 10, 256, 1280, 5000))))
    return out


SUPPORTED = DeviceInfo(emg_rate_hz=1000, accel_rate_hz=50, emg_sites=(Site.SOLEUS,),
                       emg_uv_per_lsb=0.5, accel_g_per_lsb=2.0**-12)


def _device(rng: random.Random) -> DeviceInfo:
    """Mostly supported; sometimes any rate the protocol allows (up to 65,535 Hz)."""
    if rng.random() < 0.5:
        return SUPPORTED
    accel = rng.choice((1, 7, 50, 100, 3200, 4000, 65_535))
    emg = accel * rng.randrange(1, 65_535 // accel + 1)
    return DeviceInfo(emg_rate_hz=emg, accel_rate_hz=accel,
                      emg_sites=(Site.SOLEUS,) * rng.randrange(1, 7), emg_uv_per_lsb=0.5,
                      accel_g_per_lsb=2.0**-12)


def hostile_json(rng: random.Random) -> bytes:
    """An outside JSON payload: nested, huge numbers, NaN, junk, cut, or a plain object."""
    depth = rng.choice((10, 100, 1000, 20_000))
    choices: list[Callable[[], bytes]] = [
        lambda: b"[" * depth + b"]" * depth,
        lambda: b'{"a":' * depth + b"1" + b"}" * depth,
        lambda: b"[" * depth,
        lambda: b'{"ts": ' + b"9" * rng.choice((21, 400, 5000)) + b"}",
        lambda: b'{"ts": 1e400, "x": NaN, "y": -Infinity}',
        lambda: rng.randbytes(rng.randrange(200)),
        lambda: json.dumps({"kind": "x", "fields": {"s": "[" * 50}}).encode()[: rng.randrange(40)],
        lambda: b'"' + b"\\" * rng.randrange(1, 50) + b'"',
        lambda: json.dumps({"kind": "battery", "fields": {"percent": 50}}).encode(),
        lambda: b"[" * 30 + b'"]]]]' + b"]" * 30,
    ]
    return rng.choice(choices)()


def session_case(rng: random.Random, tmp: Path) -> Path:
    """A session: device info, notifications, hostile link events, cuts, damage, or junk."""
    out = tmp / "case.cwsession"
    kind = rng.randrange(8)
    if kind == 0:
        out.write_bytes(rng.randbytes(rng.choice((0, 5, 24, 100, 3000))))
        return out
    info = _device(rng) if kind != 1 else SUPPORTED
    info_bytes = info.to_bytes() if kind != 2 else rng.randbytes(rng.randrange(30))
    parts = [session_header(), device_info_record(info_bytes)]
    enc, np_rng, index = Encoder(info), np.random.default_rng(rng.randrange(2**32)), 0
    for k in range(rng.randrange(5, 60)):
        n = 50
        _, m = accel_span(info, index, n)
        emg = np_rng.integers(-300, 300, (info.n_emg_channels, n), dtype=np.int16)
        acc = np_rng.integers(-300, 300, (3, min(m, 255)), dtype=np.int16)
        if m <= 255:
            parts.append(notification_record(enc.encode(emg, acc, index), 0.05 * k))
        if kind == 1 or rng.random() < 0.1:
            parts.append(link_event_record(hostile_json(rng), 0.05 * k))
        index += n
    raw = bytearray(b"".join(parts))
    if kind == 3:
        raw = raw[: rng.randrange(len(raw))]
    elif kind == 4:
        for _ in range(rng.randrange(1, 40)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
    out.write_bytes(bytes(raw))
    return out


# -- running a case -------------------------------------------------------------------------------
MEMORY_LIMIT = 2 << 30  # bytes of address space per case: 6 GB was the failure once
OK_CODES = (0, 65)  # a usable file, or bad input data (sysexits EX_DATAERR)


@dataclass(frozen=True, slots=True)
class Outcome:
    family: str
    code: int | None  # exit code; None for a hang
    traceback: bool
    detail: str  # the last stderr line (or the exception), for the report

    @property
    def hang(self) -> bool:
        return self.code is None

    @property
    def unexpected(self) -> bool:
        return self.code is not None and self.code not in OK_CODES


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_replay(family: str, path: Path, timeout_s: float, pythonpath: str = "") -> Outcome:
    """``crampwatch replay PATH`` in a subprocess with bounded memory and time.

    ``pythonpath``: replay another checkout's code (to count what a fix changed).
    """
    # ``python -m`` puts the working directory first on sys.path: run from that checkout
    env = dict(os.environ, PYTHONPATH=pythonpath) if pythonpath else None
    cwd = pythonpath or None
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bedside.cli", "replay", str(path),
             "--events", str(path.with_suffix(".events.jsonl"))],
            capture_output=True, text=True, check=False, timeout=timeout_s,
            preexec_fn=_limit_memory, env=env, cwd=cwd,
        )
    except subprocess.TimeoutExpired:
        return Outcome(family, None, False, f"no answer in {timeout_s} s")
    lines = result.stderr.strip().splitlines() or [""]
    return Outcome(family, result.returncode, "Traceback" in result.stderr, lines[-1][:200])


def run_json(payload: bytes, timeout_s: float) -> Outcome:
    """``loads_bounded`` in-process: BadJsonError or a value; anything else is a traceback."""
    t0 = time.perf_counter()
    try:
        loads_bounded(payload, max_bytes=1 << 16, max_depth=16)
        outcome = Outcome("json", 0, False, "accepted")
    except BadJsonError as exc:
        outcome = Outcome("json", 65, False, exc.reason)
    except Exception as exc:  # what the fuzz is looking for
        outcome = Outcome("json", 1, True, repr(exc)[:200])
    if time.perf_counter() - t0 > timeout_s:
        return Outcome("json", None, outcome.traceback, "too slow")
    return outcome


def run_cases(
    cases: int, seed: int, timeout_s: float, jobs: int, pythonpath: str = ""
) -> list[Outcome]:
    """``cases`` cases: about 40 % EDF, 40 % sessions (subprocess replay), 20 % JSON payloads."""
    rng = random.Random(seed)
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="cw-fuzz-") as tmp_name:
        tmp = Path(tmp_name)
        good = small_edf(tmp / "good.edf", seconds=10)
        files: list[tuple[str, Path]] = []
        for i in range(cases):
            case_dir = tmp / f"{i:05d}"
            case_dir.mkdir()
            family = ("edf", "session", "edf", "session", "json")[i % 5]
            if family == "json":
                outcomes.append(run_json(hostile_json(rng), timeout_s))
            elif family == "edf":
                files.append((family, edf_case(rng, case_dir, good)))
            else:
                files.append((family, session_case(rng, case_dir)))
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            outcomes += pool.map(lambda fp: run_replay(fp[0], fp[1], timeout_s, pythonpath), files)
    return outcomes


def format_table(outcomes: Sequence[Outcome]) -> str:
    """One row per family and a total: cases, exit 0, exit 65, tracebacks, hangs, other codes."""
    rows = ["| inputs | cases | exit 0 | exit 65 | tracebacks | hangs | other exit codes |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    families = sorted({o.family for o in outcomes})
    for name, group in [(f, [o for o in outcomes if o.family == f]) for f in families] + [
        ("all", list(outcomes))
    ]:
        codes = Counter(o.code for o in group)
        rows.append(
            f"| {name} | {len(group)} | {codes[0]} | {codes[65]} | "
            f"{sum(o.traceback for o in group)} | {sum(o.hang for o in group)} | "
            f"{sum(o.unexpected for o in group)} |"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz_inputs",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=250)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once")
    parser.add_argument("--pythonpath", default="",
                        help="replay with another checkout's code (e.g. a git archive of main)")
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    outcomes = run_cases(args.cases, args.seed, args.timeout, args.jobs, args.pythonpath)
    print(format_table(outcomes))
    print(f"\n{len(outcomes)} cases (seed {args.seed}) in {time.monotonic() - t0:.0f} s")
    bad = [o for o in outcomes if o.traceback or o.hang or o.unexpected]
    for o in bad:
        print(f"FAIL {o.family}: exit {o.code}: {o.detail}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
