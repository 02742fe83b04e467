"""Streaming EDF / EDF+ / BDF / BDF+ writer and reader (numpy only, no whole-file arrays).

References (the European Data Format specifications, https://www.edfplus.info/specs/):

- EDF: Kemp et al. 1992, "A simple format for exchange of digitized polygraphic recordings",
  Electroenceph. Clin. Neurophysiol. 82:391 (edfplus.info/specs/edf.html): the 256-byte fixed
  header, 256 bytes per signal, then data records of little-endian 2's-complement int16 samples.
- EDF+: Kemp & Olivan 2003, Clin. Neurophysiol. 114:1755 (edfplus.info/specs/edfplus.html):
  §2.1.3 "EDF+C"/"EDF+D" in the reserved field, §2.1.3.2/3 patient and recording fields,
  §2.2 the "EDF Annotations" signal and its time-stamped annotation lists (TALs), §2.2.4 the
  time-keeping TAL that opens every data record.
- BDF/BDF+: BioSemi's 24-bit variant (edfplus.info/specs/bdf.html, bdffaq.html): first byte 0xFF
  then "BIOSEMI", "24BIT" (or "BDF+C"/"BDF+D") in the reserved field, 3-byte samples,
  "BDF Annotations".

Signal sample values go through the linear map of the EDF spec::

    physical = (digital - digital_min) * (physical_max - physical_min)
               / (digital_max - digital_min) + physical_min

The writer and reader hold at most one block of data records in memory. Bad files raise
:class:`~firmware_bridge.errors.InputError` whose message names the file and the problem. This
module imports neither ``bedside`` nor ``detector``.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from firmware_bridge.errors import InputError

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

# --- fixed header layout: EDF spec, "header record" table (edfplus.info/specs/edf.html) ------
HEADER_BYTES = 256  # fixed part; then 256 bytes per signal
VERSION = (0, 8)  # 8 ascii: "0" (EDF) or 0xFF + "BIOSEMI" (BDF)
PATIENT = (8, 80)  # 80 ascii: local patient identification (EDF+ §2.1.3.2: "code sex birth name")
RECORDING = (88, 80)  # 80 ascii: local recording identification (EDF+ §2.1.3.3: "Startdate ...")
START_DATE = (168, 8)  # 8 ascii: dd.mm.yy (EDF+ §2.1.3.1: 85-99 -> 19yy, 00-84 -> 20yy)
START_TIME = (176, 8)  # 8 ascii: hh.mm.ss
N_HEADER_BYTES = (184, 8)  # 8 ascii: number of bytes in the header record, 256 * (ns + 1)
RESERVED = (192, 44)  # 44 ascii: "EDF+C"/"EDF+D" (EDF+ §2.1.3), "24BIT"/"BDF+C"/"BDF+D" (BDF)
N_RECORDS = (236, 8)  # 8 ascii: number of data records, -1 while unknown
RECORD_DURATION = (244, 8)  # 8 ascii: duration of a data record in seconds
N_SIGNALS = (252, 4)  # 4 ascii: ns, number of signals
# Per-signal fields, each stored as ns consecutive entries of this width (EDF spec table).
SIGNAL_FIELDS: tuple[tuple[str, int], ...] = (
    ("label", 16),
    ("transducer", 80),
    ("unit", 8),
    ("physical_min", 8),
    ("physical_max", 8),
    ("digital_min", 8),
    ("digital_max", 8),
    ("prefilter", 80),
    ("samples_per_record", 8),
    ("reserved", 32),
)
EDF_ANNOTATIONS = "EDF Annotations"  # EDF+ §2.2.1: label of the annotation signal
BDF_ANNOTATIONS = "BDF Annotations"  # BDF+ (edfplus.info/specs/bdfplus.html)
BDF_VERSION = b"\xffBIOSEMI"  # BDF spec: byte 0xFF then "BIOSEMI"
EDF_DIGITAL_RANGE = (-32768, 32767)  # EDF spec: 2-byte integers
BDF_DIGITAL_RANGE = (-8388608, 8388607)  # BDF spec: 3-byte integers
TAL_ONSET_END = b"\x15"  # EDF+ §2.2.2: onset and duration separated by byte 21
TAL_FIELD_END = b"\x14"  # EDF+ §2.2.2: byte 20 ends onset/duration and each annotation text
TAL_END = b"\x00"  # EDF+ §2.2.2: byte 0 ends each TAL
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
MAX_SIGNALS = 4096  # sanity bound so a corrupt ns cannot make us allocate gigabytes
# An accelerometer axis label: "Accel X", "Acc_y", and with an EDF+ signal type and a leg
# ("MISC Accel X L", as crampwatch export writes them; firmware_bridge.edf_writer).
_ACCEL_LABEL = re.compile(r"^(?:misc\s+)?acc[a-z]*[\s_.\-]*([xyz])(?:\s+[lr])?$", re.IGNORECASE)
# A header that lies (record duration 1 µs: EMG "at 1e9 Hz") must be refused before any reader
# sizes a buffer by it (issue #16). 100 kHz is far above any biosignal stored as EDF (auditory
# brainstem responses, the fastest, are sampled at 20-50 kHz). Annotation signals are exempt:
# their "rate" is text bytes per record (our writer puts 480 bytes in each).
MAX_SIGNAL_RATE_HZ = 100_000.0
# One data record is read whole. The EDF spec advises records of at most 61440 bytes; 64 MiB
# leaves room for 256-channel BDF at 16 kHz in 1-s records (12 MiB) and refuses a lying
# samples-per-record field.
MAX_RECORD_BYTES = 64 << 20
# Memory bound of one block read by iter_blocks/iter_chunks/iter_grouped, whatever
# records_per_block a caller asks for (replay asks for a minute of records).
MAX_BLOCK_BYTES = 64 << 20
_TAL_ONSET = re.compile(rb"^[+-]\d+(\.\d*)?$")  # EDF+ §2.2.2: onset is "+" or "-" then digits
_TAL_DURATION = re.compile(rb"^\d+(\.\d*)?$")


@dataclass(frozen=True, slots=True)
class EdfSignalSpec:
    """What the writer needs to know about one ordinary signal.

    ``rate_hz × record_duration_s`` must be a whole number of samples per data record. Physical
    values outside ``[physical_min, physical_max]`` are clipped (and counted by the writer). For
    BDF pass ``digital_min=BDF_DIGITAL_RANGE[0], digital_max=BDF_DIGITAL_RANGE[1]`` to use all
    24 bits. Header text must be ASCII (EDF spec): write ``"uV"`` for µV.
    """

    label: str
    unit: str
    rate_hz: float
    physical_min: float
    physical_max: float
    digital_min: int = -32768
    digital_max: int = 32767
    transducer: str = ""
    prefilter: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class EdfSignalInfo:
    """One ordinary (non-annotation) signal as read from a header; ``rate_hz`` in Hz."""

    label: str
    unit: str
    rate_hz: float
    samples_per_record: int
    physical_min: float
    physical_max: float
    digital_min: int
    digital_max: int
    transducer: str
    prefilter: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EdfAnnotation:
    """An EDF+ annotation; ``onset_s`` in seconds since :attr:`EdfReader.start`."""

    onset_s: float
    duration_s: float | None
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EdfChunk:
    """Contiguous data from :meth:`EdfReader.iter_chunks`.

    ``onset_s`` is the time of the first sample in seconds since :attr:`EdfReader.start`;
    ``samples`` holds one 1-D float64 array of physical values per requested signal.
    """

    onset_s: float
    first_record: int
    n_records: int
    samples: list[FloatArray]


@dataclass(frozen=True, slots=True, kw_only=True)
class EdfGroupedChunk:
    """Contiguous data from :meth:`EdfReader.iter_grouped`: a `(n_signals, n)` array per group."""

    onset_s: float
    first_record: int
    n_records: int
    arrays: list[FloatArray]


def accel_axis(label: str) -> str | None:
    """``"X"``, ``"Y"`` or ``"Z"`` if ``label`` names an accelerometer axis, else None.

    Accepts ``Accel X``, ``acc_y``, ``ACCZ`` and the typed, leg-suffixed ``MISC Accel X L``
    (docs/contracts.md, "EDF files").
    """
    m = _ACCEL_LABEL.match(label.strip())
    return m.group(1).upper() if m else None


# crampwatch export's status signal (docs/contracts.md, "EDF files"): "MISC Status L", or
# without the EDF+ type prefix and the leg
_STATUS_LABEL = re.compile(r"^(misc\s+)?status\b", re.IGNORECASE)


def is_status_label(label: str) -> bool:
    """True if ``label`` names crampwatch export's status signal (``MISC Status L``)."""
    return _STATUS_LABEL.match(label.strip()) is not None


# --------------------------------------------------------------------------------------------
# number and text fields
# --------------------------------------------------------------------------------------------


def format_number(value: float, width: int = 8) -> str:
    """The shortest decimal text of ``value`` that fits ``width`` ASCII characters.

    Raises ``ValueError`` if no text of that width is within 0.1 % of the value.
    """
    if not math.isfinite(value):
        raise ValueError(f"EDF header numbers must be finite, got {value!r}")
    if value == int(value) and len(str(int(value))) <= width:
        return str(int(value))
    for decimals in range(width, -1, -1):
        text = f"{value:.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if text in {"-0", ""}:
            text = "0"
        if len(text) <= width:
            back = float(text)
            if abs(back - value) <= 1e-3 * max(abs(value), 1e-12):
                return text
            break
    raise ValueError(f"{value!r} does not fit in an EDF header field of {width} characters")


def _field(text: str, width: int, what: str) -> bytes:
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError as exc:
        raise ValueError(f"EDF {what} must be ASCII (the EDF spec), got {text!r}") from exc
    if len(raw) > width:
        raise ValueError(f"EDF {what} {text!r} is longer than {width} characters")
    if any(b < 32 or b > 126 for b in raw):
        raise ValueError(f"EDF {what} {text!r} contains control characters")
    return raw.ljust(width, b" ")


def _format_onset(seconds: float) -> str:
    """TAL onset text (EDF+ §2.2.2): sign, digits, optional fraction; microsecond resolution."""
    text = f"{abs(seconds):.6f}".rstrip("0").rstrip(".")
    return ("-" if seconds < 0 else "+") + text


def _format_duration(seconds: float) -> str:
    return f"{seconds:.6f}".rstrip("0").rstrip(".")


def _tal(onset_s: float, duration_s: float | None, texts: Sequence[str]) -> bytes:
    head = _format_onset(onset_s).encode()
    if duration_s is not None:
        head += TAL_ONSET_END + _format_duration(duration_s).encode()
    body = b"".join(t.encode("utf-8") + TAL_FIELD_END for t in texts)
    return head + TAL_FIELD_END + body + TAL_END


# --------------------------------------------------------------------------------------------
# writer
# --------------------------------------------------------------------------------------------


class EdfWriter:
    """Write EDF+ (or BDF+) to ``path`` block by block.

    ``write`` takes one 1-D array of physical values per signal; lengths may differ from call to
    call, and partial data records wait in a buffer. ``annotate`` may come late: annotations are
    written into the annotation signal of the next data records (or, at ``close``, into earlier
    records with room). ``close`` pads the last record with physical 0 (clipped into range), sets
    the record count in the header and, after :meth:`skip`, marks the file EDF+D.

    With the default ``recording``, the recording field is EDF+ §2.1.3.3's
    ``Startdate dd-MMM-yyyy X X <equipment>`` (admin code and technician unknown; spaces in
    ``equipment`` become ``_``, as the subfields are space-separated).

    ``annotation_bytes_per_record`` sizes the annotation signal; the default fits the
    time-keeping TAL plus several annotations of ~60 characters in every record.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        signals: Sequence[EdfSignalSpec],
        *,
        start: datetime,
        record_duration_s: float = 1.0,
        patient: str = "X X X X",
        recording: str = "Startdate ...",
        equipment: str = "X",
        bdf: bool = False,
        annotation_bytes_per_record: int = 480,
    ) -> None:
        if not signals:
            raise ValueError("EdfWriter needs at least one signal")
        if not 1985 <= start.year <= 2084:
            raise ValueError(f"EDF start dates run from 1985 to 2084 (EDF+ §2.1.3.1), got {start}")
        if not record_duration_s > 0:
            raise ValueError(f"record_duration_s must be > 0, got {record_duration_s}")
        self.path = Path(path)
        self._signals = tuple(signals)
        self._bdf = bdf
        self._bytes_per_sample = 3 if bdf else 2
        self._duration_text = format_number(record_duration_s)
        self._record_duration_s = float(self._duration_text)
        lo, hi = BDF_DIGITAL_RANGE if bdf else EDF_DIGITAL_RANGE
        self._n_per_record: list[int] = []
        self._scale: list[tuple[float, float, int, int]] = []  # (gain, physical_min, dmin, dmax)
        self._phys_text: list[tuple[str, str]] = []
        for spec in self._signals:
            n = spec.rate_hz * self._record_duration_s
            if not n >= 1 or abs(n - round(n)) > 1e-6:
                raise ValueError(
                    f"signal {spec.label!r}: {spec.rate_hz} Hz × {self._record_duration_s} s "
                    "is not a whole number of samples per data record"
                )
            if not lo <= spec.digital_min < spec.digital_max <= hi:
                raise ValueError(
                    f"signal {spec.label!r}: digital range must lie in [{lo}, {hi}] "
                    f"with min < max, got [{spec.digital_min}, {spec.digital_max}]"
                )
            pmin_t, pmax_t = format_number(spec.physical_min), format_number(spec.physical_max)
            pmin, pmax = float(pmin_t), float(pmax_t)
            if pmin == pmax:
                raise ValueError(f"signal {spec.label!r}: physical_min equals physical_max")
            self._n_per_record.append(round(n))
            self._phys_text.append((pmin_t, pmax_t))
            self._scale.append(
                (
                    (pmax - pmin) / (spec.digital_max - spec.digital_min),
                    pmin,
                    spec.digital_min,
                    spec.digital_max,
                )
            )
        self._ann_samples = -(-annotation_bytes_per_record // self._bytes_per_sample)
        self._ann_bytes = self._ann_samples * self._bytes_per_sample
        self._offset_s = start.microsecond / 1e6  # EDF+ §2.2.4: sub-second start in first TAL
        self._start = start.replace(microsecond=0)
        self._patient = patient
        self._recording = (
            f"Startdate {self._start.day:02d}-{MONTHS[self._start.month - 1]}-"
            f"{self._start.year:04d} X X {equipment.replace(' ', '_') or 'X'}"
            if recording == "Startdate ..."
            else recording
        )
        self._record_bytes = sum(self._n_per_record) * self._bytes_per_sample + self._ann_bytes
        self._buffers: list[list[FloatArray]] = [[] for _ in self._signals]
        self._buffered = [0] * len(self._signals)
        self._pending: list[bytes] = []  # encoded TALs waiting for room
        self._free: list[int] = []  # free annotation bytes per written record
        self._n_records = 0
        self._skipped_s = 0.0
        self._discontinuous = False
        self.clipped = 0  # samples clipped into [physical_min, physical_max]
        self._closed = False
        # Health data: owner-only (0600), also when an existing file is overwritten.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
        except BaseException:
            os.close(fd)
            raise
        self._file: BinaryIO = os.fdopen(fd, "wb")
        try:
            self._file.write(self._header(-1))
        except BaseException:
            self._file.close()
            raise

    # -- header -------------------------------------------------------------------------------
    def _header(self, n_records: int) -> bytes:
        ns = len(self._signals) + 1
        s = self._start
        plus = (
            ("BDF+D" if self._discontinuous else "BDF+C")
            if self._bdf
            else ("EDF+D" if self._discontinuous else "EDF+C")
        )
        fixed = (
            (BDF_VERSION if self._bdf else b"0".ljust(8))
            + _field(self._patient, 80, "patient field")
            + _field(self._recording, 80, "recording field")
            + f"{s.day:02d}.{s.month:02d}.{s.year % 100:02d}".encode()
            + f"{s.hour:02d}.{s.minute:02d}.{s.second:02d}".encode()
            + _field(str(HEADER_BYTES * (ns + 1)), 8, "header size")
            + _field(plus, 44, "reserved field")
            + _field(str(n_records), 8, "record count")
            + _field(self._duration_text, 8, "record duration")
            + _field(str(ns), 4, "signal count")
        )
        ann_label = BDF_ANNOTATIONS if self._bdf else EDF_ANNOTATIONS
        ann_range = BDF_DIGITAL_RANGE if self._bdf else EDF_DIGITAL_RANGE
        columns: dict[str, list[str]] = {name: [] for name, _ in SIGNAL_FIELDS}
        for spec, (pmin_t, pmax_t), n in zip(
            self._signals, self._phys_text, self._n_per_record, strict=True
        ):
            for name, value in (
                ("label", spec.label),
                ("transducer", spec.transducer),
                ("unit", spec.unit),
                ("physical_min", pmin_t),
                ("physical_max", pmax_t),
                ("digital_min", str(spec.digital_min)),
                ("digital_max", str(spec.digital_max)),
                ("prefilter", spec.prefilter),
                ("samples_per_record", str(n)),
                ("reserved", ""),
            ):
                columns[name].append(value)
        # EDF+ §2.2.1: annotation signal has physical range -1..1 (any min != max) and no unit.
        for name, value in (
            ("label", ann_label),
            ("transducer", ""),
            ("unit", ""),
            ("physical_min", "-1"),
            ("physical_max", "1"),
            ("digital_min", str(ann_range[0])),
            ("digital_max", str(ann_range[1])),
            ("prefilter", ""),
            ("samples_per_record", str(self._ann_samples)),
            ("reserved", ""),
        ):
            columns[name].append(value)
        per_signal = b"".join(
            _field(v, width, f"signal {name}")
            for name, width in SIGNAL_FIELDS
            for v in columns[name]
        )
        return fixed + per_signal

    # -- data ---------------------------------------------------------------------------------
    def write(self, samples: Sequence[FloatArray]) -> None:
        """Append physical values: one 1-D array per signal (µV, g, ... as in the specs)."""
        if self._closed:
            raise ValueError("write on a closed EdfWriter")
        if len(samples) != len(self._signals):
            raise ValueError(f"expected {len(self._signals)} arrays, got {len(samples)}")
        for i, arr in enumerate(samples):
            a = np.asarray(arr, dtype=np.float64)
            if a.ndim != 1:
                raise ValueError(f"signal {i}: expected a 1-D array, got shape {a.shape}")
            if a.size:
                self._buffers[i].append(a)
                self._buffered[i] += a.size
        k = min(b // n for b, n in zip(self._buffered, self._n_per_record, strict=True))
        if k:
            self._write_records(k)

    def _take(self, i: int, count: int) -> FloatArray:
        parts = self._buffers[i]
        joined = parts[0] if len(parts) == 1 else np.concatenate(parts or [np.zeros(0)])
        if joined.size < count:  # only at close: pad the last record
            joined = np.concatenate([joined, np.zeros(count - joined.size)])
        head, rest = joined[:count], joined[count:]
        self._buffers[i] = [rest] if rest.size else []
        self._buffered[i] = rest.size
        return head

    def _digital(self, i: int, x: FloatArray) -> FloatArray:
        """Physical → digital values (still float64, whole numbers within the digital range)."""
        gain, pmin, dmin, dmax = self._scale[i]
        d = x - pmin
        d *= 1.0 / gain
        d += dmin
        np.rint(d, out=d)
        if d.size and not (dmin <= d.min() and d.max() <= dmax):  # False for NaN too
            bad = ~((d >= dmin) & (d <= dmax))
            self.clipped += int(bad.sum())
            d = np.clip(np.nan_to_num(d, nan=float(dmin + dmax) / 2), dmin, dmax)
        return d

    def _write_records(self, k: int) -> None:
        bps = self._bytes_per_sample
        out = np.zeros((k, self._record_bytes), dtype=np.uint8)
        col = 0
        for i, n in enumerate(self._n_per_record):
            d = self._digital(i, self._take(i, k * n))
            if bps == 2:  # EDF spec: little-endian 2's-complement int16
                le = d.astype("<i2").view(np.uint8).reshape(k, 2 * n)
            else:  # BDF spec: little-endian 2's-complement int24, the low 3 bytes of an int32
                le = d.astype("<i4").view(np.uint8).reshape(k, n, 4)[:, :, :3].reshape(k, 3 * n)
            out[:, col : col + n * bps] = le
            col += n * bps
        for r in range(k):
            ann = self._annotation_bytes(self._n_records + r)
            out[r, col : col + len(ann)] = np.frombuffer(ann, dtype=np.uint8)
            self._free.append(self._ann_bytes - len(ann))
        self._file.write(out.tobytes())
        self._n_records += k

    def _record_onset(self, index: int) -> float:
        return self._offset_s + self._skipped_s + index * self._record_duration_s

    def _annotation_bytes(self, index: int) -> bytes:
        # EDF+ §2.2.4: the first TAL of every record is time-keeping: onset, empty annotation.
        data = _tal(self._record_onset(index), None, [""])
        while self._pending and len(data) + len(self._pending[0]) <= self._ann_bytes:
            data += self._pending.pop(0)
        return data

    def annotate(self, onset_s: float, duration_s: float | None, text: str) -> None:
        """Add an EDF+ annotation; ``onset_s`` in seconds since ``start`` (may lie in the past)."""
        if self._closed:
            raise ValueError("annotate on a closed EdfWriter")
        if any(c in text for c in "\x00\x14\x15"):
            raise ValueError("annotation text must not contain bytes 0, 20 or 21 (EDF+ §2.2.2)")
        if duration_s is not None and not duration_s >= 0:
            raise ValueError(f"annotation duration must be >= 0, got {duration_s}")
        tal = _tal(onset_s + self._offset_s, duration_s, [text])
        room = self._ann_bytes - len(_tal(self._record_onset(10**7), None, [""]))
        if len(tal) > room:
            raise ValueError(
                f"annotation of {len(tal)} bytes does not fit the {room} bytes free per record; "
                "raise annotation_bytes_per_record"
            )
        self._pending.append(tal)

    def skip(self, duration_s: float) -> None:
        """Leave a gap of ``duration_s`` seconds before the next data record (makes EDF+D).

        Only allowed on a record boundary (no partial record buffered).
        """
        if any(self._buffered):
            raise ValueError("skip() needs a record boundary: a partial data record is buffered")
        if not duration_s > 0:
            raise ValueError(f"skip duration must be > 0, got {duration_s}")
        self._skipped_s += duration_s
        self._discontinuous = True

    @property
    def n_records(self) -> int:
        return self._n_records

    def close(self) -> None:
        """Pad and write the last record, place leftover annotations, fix the header."""
        if self._closed:
            return
        try:
            if any(self._buffered) or (self._pending and self._n_records == 0):
                k = max(-(-b // n) for b, n in zip(self._buffered, self._n_per_record, strict=True))
                self._write_records(max(k, 1))
            self._place_leftover_annotations()
            self._file.seek(0)
            self._file.write(self._header(self._n_records))
        finally:
            self._closed = True
            self._file.close()

    def _place_leftover_annotations(self) -> None:
        data_bytes = self._record_bytes - self._ann_bytes
        header_bytes = HEADER_BYTES * (len(self._signals) + 2)
        for r in range(len(self._free) - 1, -1, -1):
            if not self._pending:
                return
            used = self._ann_bytes - self._free[r]
            extra = b""
            while self._pending and used + len(extra) + len(self._pending[0]) <= self._ann_bytes:
                extra += self._pending.pop(0)
            if extra:
                self._file.seek(header_bytes + r * self._record_bytes + data_bytes + used)
                self._file.write(extra)
                self._free[r] -= len(extra)
        if self._pending:  # pragma: no cover - needs more annotations than the file has room
            raise ValueError(
                f"{self.path}: {len(self._pending)} annotations did not fit; "
                "raise annotation_bytes_per_record"
            )

    def __enter__(self) -> EdfWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --------------------------------------------------------------------------------------------
# reader
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _RawSignal:
    info: EdfSignalInfo
    byte_offset: int  # within a data record
    is_annotation: bool


def _ascii(raw: bytes, path: Path, what: str) -> str:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise InputError(
            f"{path}: header field {what} is not ASCII: {raw!r}", path=str(path)
        ) from None
    return text.strip()


def _text(raw: bytes) -> str:
    """A free-text header field. The spec says ASCII; some devices write Latin-1 (``µV``)."""
    return raw.decode("latin-1").strip()


def _int(raw: bytes, path: Path, what: str) -> int:
    text = _ascii(raw, path, what)
    if not re.fullmatch(r"[+-]?\d{1,12}", text):
        raise InputError(f"{path}: header field {what} is not an integer: {text!r}", path=str(path))
    return int(text)


def _float(raw: bytes, path: Path, what: str) -> float:
    text = _ascii(raw, path, what)
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
        raise InputError(f"{path}: header field {what} is not a number: {text!r}", path=str(path))
    value = float(text)
    if not math.isfinite(value):
        raise InputError(f"{path}: header field {what} is not finite: {text!r}", path=str(path))
    return value


def _parse_tals(data: bytes) -> Iterator[tuple[float, float | None, list[str]] | None]:
    """Yield ``(onset, duration, texts)`` per TAL of one record's annotation bytes (None if bad)."""
    for raw in data.rstrip(TAL_END).split(TAL_END):  # unused bytes are 0 (EDF+ §2.2.2)
        if not raw:
            continue
        parts = raw.split(TAL_FIELD_END)
        head, texts = parts[0], parts[1:]
        if texts and texts[-1] == b"":
            texts = texts[:-1]
        onset_raw, _, dur_raw = head.partition(TAL_ONSET_END)
        if not _TAL_ONSET.match(onset_raw) or (dur_raw and not _TAL_DURATION.match(dur_raw)):
            yield None
            continue
        try:
            decoded = [t.decode("utf-8") for t in texts]
        except UnicodeDecodeError:
            yield None
            continue
        yield float(onset_raw), (float(dur_raw) if dur_raw else None), decoded


class EdfReader:
    """Read an EDF/EDF+/BDF/BDF+ file's header at once and its data records on demand.

    ``signals`` lists the ordinary signals (annotation signals are kept apart); indices passed to
    :meth:`iter_blocks` and :meth:`iter_chunks` refer to it. ``start`` is the start of the first
    sample (EDF+ files include the sub-second offset of the first time-keeping TAL). No file
    handle stays open between calls.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.warnings: list[str] = []
        self.bad_annotations = 0
        try:
            size = self.path.stat().st_size
            with self.path.open("rb") as fh:
                fixed = fh.read(HEADER_BYTES)
                self._parse_fixed(fixed, size)
                rest = fh.read(self._header_bytes - HEADER_BYTES)
                self._parse_signals(rest)
                self._check_size(size)
                first = fh.read(self._record_bytes)
        except FileNotFoundError:
            raise InputError(f"{self.path}: no such file", path=str(self.path)) from None
        except IsADirectoryError:
            raise InputError(f"{self.path}: is a directory", path=str(self.path)) from None
        except OSError as exc:
            raise InputError(
                f"{self.path}: cannot read: {exc.strerror or exc}", path=str(self.path)
            ) from None
        self._offset_s = 0.0
        if self.is_plus:
            onset = self._timekeeping(first, 0)
            if onset is None:
                raise InputError(
                    f"{self.path}: EDF+ data record 0 does not start with a time-keeping TAL "
                    "(EDF+ §2.2.4)",
                    path=str(self.path),
                )
            self._offset_s = onset
        self.start = self._header_start + timedelta(seconds=self._offset_s)

    # -- header parsing -----------------------------------------------------------------------
    def _fail(self, what: str) -> InputError:
        return InputError(f"{self.path}: {what}", path=str(self.path))

    def _parse_fixed(self, h: bytes, size: int) -> None:
        def f(pos: tuple[int, int]) -> bytes:
            return h[pos[0] : pos[0] + pos[1]]

        if len(h) < HEADER_BYTES:
            raise self._fail(f"not an EDF/BDF file: {size} bytes, shorter than the 256-byte header")
        version = f(VERSION)
        if version == BDF_VERSION:
            self.is_bdf = True
        elif version.strip() == b"0":
            self.is_bdf = False
        else:
            raise self._fail(
                f"not an EDF/BDF file: version field is {version!r}, expected '0' or 0xFF BIOSEMI"
            )
        self.patient = _text(f(PATIENT))
        self.recording = _text(f(RECORDING))
        reserved = _text(f(RESERVED))
        plus = "BDF+" if self.is_bdf else "EDF+"
        self.is_plus = reserved.startswith(plus)
        self.is_discontinuous = reserved.startswith(plus + "D")
        self._header_start = self._parse_start(
            _ascii(f(START_DATE), self.path, "startdate"),
            _ascii(f(START_TIME), self.path, "starttime"),
        )
        self._header_bytes = _int(f(N_HEADER_BYTES), self.path, "header bytes")
        self._declared_records = _int(f(N_RECORDS), self.path, "number of data records")
        self.record_duration_s = _float(f(RECORD_DURATION), self.path, "record duration")
        self._ns = _int(f(N_SIGNALS), self.path, "number of signals")
        if not 1 <= self._ns <= MAX_SIGNALS:
            raise self._fail(f"number of signals is {self._ns}, expected 1..{MAX_SIGNALS}")
        if self._header_bytes != HEADER_BYTES * (self._ns + 1):
            raise self._fail(
                f"header size field says {self._header_bytes} bytes but {self._ns} signals "
                f"need {HEADER_BYTES * (self._ns + 1)}"
            )
        if self.record_duration_s < 0:
            raise self._fail(f"record duration is negative: {self.record_duration_s}")
        if self._declared_records < -1:
            raise self._fail(f"number of data records is {self._declared_records}")
        if size < self._header_bytes:
            raise self._fail(
                f"truncated header: {size} bytes, the header alone needs {self._header_bytes}"
            )

    def _parse_start(self, date: str, time: str) -> datetime:
        m_d = re.fullmatch(r"(\d\d)\.(\d\d)\.(\d\d)", date)
        m_t = re.fullmatch(r"(\d\d)\.(\d\d)\.(\d\d)", time)
        if not m_d or not m_t:
            raise self._fail(f"start date/time {date!r} {time!r} is not dd.mm.yy hh.mm.ss")
        day, month, yy = (int(g) for g in m_d.groups())
        year = 1900 + yy if yy >= 85 else 2000 + yy  # EDF+ §2.1.3.1: the 1985 clipping date
        # EDF+ §2.1.3.3: the recording field "Startdate dd-MMM-yyyy" carries the full year.
        m_r = re.match(r"Startdate (\d\d)-([A-Z]{3})-(\d{4})\b", self.recording)
        if self.is_plus and m_r and m_r.group(2) in MONTHS and int(m_r.group(3)) % 100 == yy:
            year = int(m_r.group(3))
        try:
            hh, mm, ss = (int(g) for g in m_t.groups())
            return datetime(year, month, day, hh, mm, ss)
        except ValueError as exc:
            raise self._fail(f"start date/time {date} {time} is invalid: {exc}") from None

    def _parse_signals(self, raw: bytes) -> None:
        ns = self._ns
        if len(raw) < HEADER_BYTES * ns:
            raise self._fail("truncated header: signal fields are incomplete")
        values: dict[str, list[bytes]] = {}
        pos = 0
        for name, width in SIGNAL_FIELDS:
            values[name] = [raw[pos + i * width : pos + (i + 1) * width] for i in range(ns)]
            pos += width * ns
        ann_label = BDF_ANNOTATIONS if self.is_bdf else EDF_ANNOTATIONS
        bps = 3 if self.is_bdf else 2
        signals: list[_RawSignal] = []
        offset = 0
        for i in range(ns):
            label = _text(values["label"][i])
            what = f"of signal {i} ({label!r})"
            n = _int(values["samples_per_record"][i], self.path, f"samples per record {what}")
            dmin = _int(values["digital_min"][i], self.path, f"digital minimum {what}")
            dmax = _int(values["digital_max"][i], self.path, f"digital maximum {what}")
            pmin = _float(values["physical_min"][i], self.path, f"physical minimum {what}")
            pmax = _float(values["physical_max"][i], self.path, f"physical maximum {what}")
            lo, hi = BDF_DIGITAL_RANGE if self.is_bdf else EDF_DIGITAL_RANGE
            if not 1 <= n <= 10**8:
                raise self._fail(f"samples per record {what} is {n}, expected >= 1")
            is_ann = self.is_plus and label == ann_label
            if not is_ann and n > MAX_SIGNAL_RATE_HZ * self.record_duration_s > 0:
                raise self._fail(
                    f"rate {what} is {n / self.record_duration_s:g} Hz ({n} samples per "
                    f"{self.record_duration_s:g}-s record), above {MAX_SIGNAL_RATE_HZ:g} Hz: "
                    "the header's record duration or samples per record is wrong"
                )
            if not lo <= dmin < dmax <= hi:
                raise self._fail(
                    f"digital range {what} is [{dmin}, {dmax}], expected min < max within "
                    f"[{lo}, {hi}]"
                )
            if pmin == pmax:
                raise self._fail(f"physical minimum equals maximum {what}: {pmin}")
            rate = n / self.record_duration_s if self.record_duration_s > 0 else 0.0
            info = EdfSignalInfo(
                label=label,
                unit=_text(values["unit"][i]),
                rate_hz=rate,
                samples_per_record=n,
                physical_min=pmin,
                physical_max=pmax,
                digital_min=dmin,
                digital_max=dmax,
                transducer=_text(values["transducer"][i]),
                prefilter=_text(values["prefilter"][i]),
            )
            signals.append(_RawSignal(info, offset, is_ann))
            offset += n * bps
        self._raw = tuple(signals)
        self._ordinary = tuple(s for s in signals if not s.is_annotation)
        self._annotation = tuple(s for s in signals if s.is_annotation)
        self.signals: tuple[EdfSignalInfo, ...] = tuple(s.info for s in self._ordinary)
        self._record_bytes = offset
        if offset > MAX_RECORD_BYTES:
            raise self._fail(
                f"a data record of {offset} bytes is larger than the {MAX_RECORD_BYTES} bytes "
                "this reader accepts: the header's samples per record are wrong"
            )
        if self.is_plus and not self._annotation:
            raise self._fail(f"{'BDF' if self.is_bdf else 'EDF'}+ file has no '{ann_label}' signal")
        if self.record_duration_s == 0 and self._ordinary:
            raise self._fail("record duration is 0 but the file has ordinary signals")

    def _check_size(self, size: int) -> None:
        data = size - self._header_bytes
        full, rest = divmod(data, self._record_bytes)
        declared = self._declared_records
        if declared == -1:
            if rest:
                self._warn(
                    f"last data record is incomplete ({rest} of {self._record_bytes} "
                    "bytes); reading the complete ones"
                )
            self.n_records = full
        elif full < declared:
            self._warn(
                f"truncated: header declares {declared} data records, the file holds {full} "
                f"complete ones{f' and {rest} more bytes' if rest else ''}; reading {full}"
            )
            self.n_records = full
        elif full > declared or rest:
            raise self._fail(
                f"size mismatch: header declares {declared} data records of "
                f"{self._record_bytes} bytes ({self._header_bytes + declared * self._record_bytes}"
                f" bytes in all) but the file has {size} bytes"
            )
        else:
            self.n_records = declared
        if self.n_records == 0:
            raise self._fail("file holds no (complete) data records")

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        log.warning("%s: %s", self.path, message)

    # -- properties -----------------------------------------------------------------------------
    @property
    def duration_s(self) -> float:
        """Recorded time in seconds (n_records × record duration; gaps of EDF+D excluded)."""
        return self.n_records * self.record_duration_s

    @property
    def record_bytes(self) -> int:
        return self._record_bytes

    def signal_index(self, label: str) -> int:
        """Index in :attr:`signals` of the first signal with this label (``KeyError`` if none)."""
        for i, s in enumerate(self.signals):
            if s.label == label:
                return i
        raise KeyError(label)

    # -- annotations ----------------------------------------------------------------------------
    def _annotation_tals(
        self, record: bytes, index: int
    ) -> list[tuple[float, float | None, list[str]]]:
        bps = 3 if self.is_bdf else 2
        out: list[tuple[float, float | None, list[str]]] = []
        for sig in self._annotation:
            raw = record[sig.byte_offset : sig.byte_offset + sig.info.samples_per_record * bps]
            for tal in _parse_tals(raw):
                if tal is None:
                    self.bad_annotations += 1
                    log.debug("%s: record %d: malformed TAL skipped", self.path, index)
                else:
                    out.append(tal)
        return out

    def _timekeeping(self, record: bytes, index: int) -> float | None:
        """Onset of a record from its first TAL (EDF+ §2.2.4), relative to the header start."""
        if not self._annotation:
            return None
        bps = 3 if self.is_bdf else 2
        sig = self._annotation[0]
        raw = record[sig.byte_offset : sig.byte_offset + sig.info.samples_per_record * bps]
        for tal in _parse_tals(raw):
            if tal is not None and (not tal[2] or tal[2][0] == ""):
                return tal[0]
            return None
        return None

    def _records(self, per_block: int) -> Iterator[tuple[int, bytes]]:
        """Yield ``(first_index, raw bytes of up to per_block records)``."""
        if per_block < 1:
            raise ValueError(f"records_per_block must be >= 1, got {per_block}")
        per_block = min(per_block, max(1, MAX_BLOCK_BYTES // self._record_bytes))
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._header_bytes)
                index = 0
                while index < self.n_records:
                    k = min(per_block, self.n_records - index)
                    data = fh.read(k * self._record_bytes)
                    if len(data) < k * self._record_bytes:
                        raise self._fail(f"file shrank while reading data record {index}")
                    yield index, data
                    index += k
        except OSError as exc:
            raise self._fail(f"cannot read: {exc.strerror or exc}") from None

    def annotations(self) -> list[EdfAnnotation]:
        """Every annotation (time-keeping TALs excluded), onsets in s since :attr:`start`.

        Reads only the annotation bytes, record by record; malformed TALs are skipped and
        counted in :attr:`bad_annotations`.
        """
        found: list[EdfAnnotation] = []
        if not self._annotation:
            return found
        bad_before = self.bad_annotations
        for first, block in self._records(256):
            for r in range(len(block) // self._record_bytes):
                rec = block[r * self._record_bytes : (r + 1) * self._record_bytes]
                for n_tal, (onset, duration, texts) in enumerate(
                    self._annotation_tals(rec, first + r)
                ):
                    if n_tal == 0 and texts[:1] == [""]:
                        texts = texts[1:]  # the time-keeping TAL
                    found.extend(
                        EdfAnnotation(onset_s=onset - self._offset_s, duration_s=duration, text=t)
                        for t in texts
                    )
        if self.bad_annotations > bad_before:
            self._warn(f"{self.bad_annotations - bad_before} malformed annotations skipped")
        return found

    # -- samples --------------------------------------------------------------------------------
    def _decode(
        self,
        block: bytes,
        k: int,
        sig: _RawSignal,
        out: FloatArray | None = None,
        scale: float = 1.0,
    ) -> FloatArray:
        """Physical values × ``scale`` of one signal over ``k`` records, into ``out`` if given."""
        info = sig.info
        n = info.samples_per_record
        if out is None:
            out = np.empty(k * n, dtype=np.float64)
        rec = np.frombuffer(block, dtype=np.uint8).reshape(k, self._record_bytes)
        cols = rec[:, sig.byte_offset : sig.byte_offset + (3 if self.is_bdf else 2) * n]
        gain = (info.physical_max - info.physical_min) / (info.digital_max - info.digital_min)
        if self.is_bdf:  # int24: widen to int32, the top byte repeating the sign bit
            wide = np.empty((k * n, 4), dtype=np.uint8)
            wide[:, :3] = cols.reshape(k * n, 3)
            wide[:, 3] = np.where(wide[:, 2] >= 0x80, 0xFF, 0)
            digital: npt.NDArray[np.generic] = wide.view("<i4").reshape(k, n)
        else:  # each record's bytes are contiguous, so the int16 view needs no copy
            digital = cols.view("<i2")
        np.multiply(digital, gain * scale, out=out.reshape(k, n))
        out += (info.physical_min - info.digital_min * gain) * scale
        return out

    def _check_indices(self, signal_indices: Sequence[int]) -> list[_RawSignal]:
        picked: list[_RawSignal] = []
        for i in signal_indices:
            if not 0 <= i < len(self._ordinary):
                raise ValueError(f"signal index {i} out of range 0..{len(self._ordinary) - 1}")
            picked.append(self._ordinary[i])
        return picked

    def iter_blocks(
        self, signal_indices: Sequence[int], records_per_block: int = 60
    ) -> Iterator[list[FloatArray]]:
        """Yield physical values, one 1-D float64 array per index, ``records_per_block`` at a time.

        Concatenated, the blocks give the whole recording; EDF+D gaps are not marked here (use
        :meth:`iter_chunks`). Memory is one block.
        """
        picked = self._check_indices(signal_indices)
        for _first, block in self._records(records_per_block):
            k = len(block) // self._record_bytes
            yield [self._decode(block, k, s) for s in picked]

    def _contiguous(self, records_per_block: int) -> Iterator[tuple[float, int, int, bytes]]:
        """Yield ``(onset_s, first_record, n_records, raw)`` for runs of records without gaps."""
        dur = self.record_duration_s
        for first, block in self._records(records_per_block):
            k = len(block) // self._record_bytes
            if not self.is_discontinuous:
                yield first * dur, first, k, block
                continue
            onsets: list[float] = []
            for r in range(k):
                rec = block[r * self._record_bytes : (r + 1) * self._record_bytes]
                onset = self._timekeeping(rec, first + r)
                if onset is None:
                    raise self._fail(
                        f"EDF+D data record {first + r} has no time-keeping TAL (EDF+ §2.2.4)"
                    )
                onsets.append(onset - self._offset_s)
            start = 0
            for r in range(1, k + 1):
                # a tolerance of 1 µs: onsets are written with 6 decimals (EDF+ §2.2.2)
                if r == k or abs(onsets[r] - (onsets[r - 1] + dur)) > 1e-6:
                    raw = block[start * self._record_bytes : r * self._record_bytes]
                    yield onsets[start], first + start, r - start, raw
                    start = r

    def iter_chunks(
        self, signal_indices: Sequence[int], records_per_block: int = 60
    ) -> Iterator[EdfChunk]:
        """Like :meth:`iter_blocks`, but each chunk is contiguous in time and carries its onset.

        For EDF+D the onset of every record comes from its time-keeping TAL (EDF+ §2.2.4), and a
        chunk ends where the next record does not follow on; otherwise onsets are
        ``index × record_duration_s``.
        """
        picked = self._check_indices(signal_indices)
        for onset, first, k, raw in self._contiguous(records_per_block):
            yield EdfChunk(
                onset_s=onset,
                first_record=first,
                n_records=k,
                samples=[self._decode(raw, k, s) for s in picked],
            )

    def iter_grouped(
        self,
        groups: Sequence[Sequence[int]],
        records_per_block: int = 60,
        *,
        scales: Sequence[Sequence[float]] | None = None,
    ) -> Iterator[EdfGroupedChunk]:
        """Contiguous chunks as one ``(len(group), n)`` float64 array per group of signals.

        Signals in a group must share a rate. ``scales`` (same shape as ``groups``) multiplies
        each signal's physical values, e.g. 1000 to turn mV into µV; it is fused into the
        digital-to-physical gain, so no extra pass over the data is made.
        """
        picked = [self._check_indices(g) for g in groups]
        factors = (
            [list(s) for s in scales] if scales is not None else [[1.0] * len(g) for g in groups]
        )
        if [len(f) for f in factors] != [len(g) for g in picked]:
            raise ValueError("scales must have the same shape as groups")
        for g in picked:
            if len({s.info.samples_per_record for s in g}) > 1:
                raise ValueError(f"signals {[s.info.label for s in g]} have different rates")
        for onset, first, k, raw in self._contiguous(records_per_block):
            arrays: list[FloatArray] = []
            for g, f in zip(picked, factors, strict=True):
                n = g[0].info.samples_per_record * k if g else 0
                arr = np.empty((len(g), n), dtype=np.float64)
                for row, (sig, scale) in enumerate(zip(g, f, strict=True)):
                    self._decode(raw, k, sig, out=arr[row], scale=scale)
                arrays.append(arr)
            yield EdfGroupedChunk(onset_s=onset, first_record=first, n_records=k, arrays=arrays)

    def __repr__(self) -> str:
        kind = ("BDF" if self.is_bdf else "EDF") + (
            ("+D" if self.is_discontinuous else "+C") if self.is_plus else ""
        )
        return (
            f"EdfReader({str(self.path)!r}, {kind}, {len(self.signals)} signals, "
            f"{self.n_records} × {self.record_duration_s} s)"
        )
