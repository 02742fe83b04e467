"""A wearable's sample streams as EDF+ data records: labels, signals and the record grid.

What ``crampwatch export`` writes (docs/contracts.md, "EDF files"); the command itself
(``bedside/commands/export.py``) only replays the session and annotates.

* **Labels** follow EDF+ §2.1.3.4 ("type specification", within the 16-character label field of
  the EDF spec) and name the leg (``L``/``R``; nothing when the wearable does not say), so two
  legs' files never clash: ``EMG calf med L``, ``MISC Accel X L`` … ``MISC Status L``. MNE's
  ``read_raw_edf(..., infer_types=True)`` types a channel by the first word of its label when it
  is one of its known types (``mne/io/edf/edf.py``, ``CH_TYPE_MAPPING``: EEG, EMG, MISC …); an
  untyped ``Accel X`` would be read as EEG.
* **Grid**: data records of :func:`record_duration` seconds lie on a fixed grid from stream time
  0. A record that a gap cuts keeps its received samples and is zero-filled for the rest. Records
  with no sample at all are zero-filled too (EDF+C, the default, which every reader opens and
  places correctly) or left out (EDF+D, ``continuous=False``).
* **Status** signal, one sample per accelerometer period: bit 0 (value 1) set when any EMG sample
  of that period was zero-filled, bit 1 (value 2) when the accelerometer sample was; 0 means
  everything was received.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

import numpy as np
import numpy.typing as npt

from firmware_bridge.edf import EdfSignalSpec, EdfWriter, format_number
from firmware_bridge.protocol import DeviceInfo, Leg, Site

FloatArray = npt.NDArray[np.float64]

TARGET_RECORD_S = 0.1  # short records: a gap fills at most this much on either side
WRITE_RECORDS = 600  # records handed to the EDF writer at once (a minute of 0.1-s records)
INT16 = (-32768, 32767)  # the wearable's sample counts (firmware_bridge/PROTOCOL.md §4)
EMG_MISSING, ACCEL_MISSING = 1, 2  # status bits (module docstring)
EDF_LABEL_CHARS = 16  # EDF spec: "16 ascii: label"

# Short muscle names: "EMG calf lateral" plus a leg would not fit 16 characters.
_SITE_NAMES = {
    Site.UNKNOWN: "calf",
    Site.GASTROCNEMIUS_MEDIAL: "calf med",
    Site.GASTROCNEMIUS_LATERAL: "calf lat",
    Site.SOLEUS: "soleus",
    Site.TIBIALIS_ANTERIOR: "shin",  # detector.pipeline.SHIN_WORDS: the detector's shin channel
    Site.HAMSTRINGS: "hamstr",
    Site.FOOT_INTRINSIC: "foot",
}
_LEG_LETTERS = {Leg.LEFT: "L", Leg.RIGHT: "R"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportLabels:
    """EDF labels of one wearable's signals, in file order: EMG…, accelerometer X Y Z, status."""

    emg: tuple[str, ...]
    accel: tuple[str, str, str]
    status: str

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.emg, *self.accel, self.status)


def export_labels(info: DeviceInfo) -> ExportLabels:
    """Labels for ``info``'s wearable (module docstring); a muscle measured twice is numbered."""
    leg = _LEG_LETTERS.get(info.leg)
    suffix = f" {leg}" if leg else ""
    names = [_SITE_NAMES.get(site, "calf") for site in info.emg_sites]
    counts = {n: names.count(n) for n in names}
    seen: dict[str, int] = {}
    emg = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        number = str(seen[name]) if counts[name] > 1 else ""
        emg.append(f"EMG {name}{number}{suffix}")
    x, y, z = (f"MISC Accel {axis}{suffix}" for axis in "XYZ")
    labels = ExportLabels(emg=tuple(emg), accel=(x, y, z), status=f"MISC Status{suffix}")
    too_long = [label for label in labels.all if len(label) > EDF_LABEL_CHARS]
    if too_long:  # only with absurd channel counts; EdfWriter would refuse them anyway
        raise ValueError(f"EDF labels longer than {EDF_LABEL_CHARS} characters: {too_long}")
    return labels


def equipment(info: DeviceInfo) -> str:
    """EDF+ §2.1.3.3 equipment subfield: ``crampwatch_<version>_wearable_fw<a.b.c>``."""
    try:
        version = metadata.version("crampwatch")
    except metadata.PackageNotFoundError:  # running from a checkout without an install
        version = "0+unknown"
    firmware = ".".join(str(part) for part in info.firmware_version)
    return f"crampwatch_{version}_wearable_fw{firmware}"


def record_duration(info: DeviceInfo) -> float:
    """Data-record length (s): k accelerometer periods, ≥ TARGET_RECORD_S where possible, whose
    decimal text is exact (EDF header field of 8 characters) and holds whole EMG samples."""
    for k in range(1, info.accel_rate_hz + 1):
        text = format_number(k / info.accel_rate_hz)
        d = float(text)
        if d < TARGET_RECORD_S and k < info.accel_rate_hz:
            continue
        if (
            abs(d * info.accel_rate_hz - k) < 1e-9
            and abs(d * info.emg_rate_hz - round(d * info.emg_rate_hz)) < 1e-9
        ):
            return d
    return 1.0  # integer rates: one second always holds whole samples


def signal_specs(info: DeviceInfo) -> list[EdfSignalSpec]:
    """EMG (µV), accelerometer (g) and status signals in :func:`export_labels` order.

    The physical range is the wearable's int16 range times its µV (g) per LSB, so each EDF
    digital value is the wearable's own count (lossless).
    """
    labels = export_labels(info)

    def counts(label: str, unit: str, rate_hz: int, per_lsb: float, what: str) -> EdfSignalSpec:
        return EdfSignalSpec(
            label=label,
            unit=unit,
            rate_hz=float(rate_hz),
            physical_min=INT16[0] * per_lsb,
            physical_max=INT16[1] * per_lsb,
            transducer=what,
        )

    emg_rate, uv = info.emg_rate_hz, info.emg_uv_per_lsb
    acc_rate, g = info.accel_rate_hz, info.accel_g_per_lsb
    specs = [counts(label, "uV", emg_rate, uv, "surface EMG") for label in labels.emg]
    specs += [counts(label, "g", acc_rate, g, "accelerometer") for label in labels.accel]
    all_bits = EMG_MISSING | ACCEL_MISSING
    specs.append(
        EdfSignalSpec(
            label=labels.status,
            unit="",
            rate_hz=float(info.accel_rate_hz),
            physical_min=0.0,
            physical_max=float(all_bits),
            digital_min=0,
            digital_max=all_bits,
            transducer="crampwatch zero-fill flags",
            prefilter="1=EMG filled 2=accel filled",
        )
    )
    return specs


def _place(
    record: FloatArray, got: npt.NDArray[np.bool_], block: FloatArray, done: int, at: int
) -> int:
    """Copy ``block[:, done:]`` (whose column 0 is record column ``at``) into ``record`` up to
    the record's end; mark the columns received in ``got``. Returns how many columns it took."""
    off = at + done
    take = int(min(record.shape[1] - off, block.shape[1] - done))
    record[:, off : off + take] = block[:, done : done + take]
    got[off : off + take] = True
    return take


class GridWriter:
    """Stream samples → EDF+ data records on a fixed grid from stream time 0 (module docstring).

    ``add(emg (n_ch, n) µV, accel (3, m) g, emg_at, accel_at)`` takes blocks at stream sample
    indices, in increasing order; ``close()`` writes the last record. ``writer`` must have been
    opened with :func:`signal_specs` and a ``record_s`` data-record duration.
    """

    def __init__(
        self, writer: EdfWriter, info: DeviceInfo, record_s: float, *, continuous: bool = True
    ) -> None:
        self._writer = writer
        self._continuous = continuous
        self._n_ch = info.n_emg_channels
        self._r_emg = round(record_s * info.emg_rate_hz)
        self._r_acc = round(record_s * info.accel_rate_hz)
        self._record_s = record_s
        # Which accelerometer period each EMG sample of a record falls in (status resolution).
        self._emg_period = (np.arange(self._r_emg) * self._r_acc) // self._r_emg
        self._current: int | None = None  # grid index of the record being filled
        self._emg = np.zeros((self._n_ch, self._r_emg))
        self._acc = np.zeros((3, self._r_acc))
        self._got_emg = np.zeros(self._r_emg, dtype=bool)
        self._got_acc = np.zeros(self._r_acc, dtype=bool)
        self._next_written = 0  # grid index after the last record written or skipped
        self.records = 0  # data records in the file
        self.empty_records = 0  # records without any sample: zero-filled (EDF+C) or left out
        self.filled_samples = 0  # EMG samples written as 0 (in records a gap cuts, or empty)
        self._done: list[FloatArray] = []  # finished records (signals × samples), not written
        self._empty = np.zeros((self._n_ch * self._r_emg + 4 * self._r_acc,))
        self._empty[self._n_ch * self._r_emg + 3 * self._r_acc :] = EMG_MISSING | ACCEL_MISSING

    def _open(self, index: int) -> None:
        if self._current is not None:
            self._flush()
        missing = index - self._next_written
        if missing > 0:
            self.empty_records += missing
            if self._continuous:
                for _ in range(missing):
                    self._queue(self._empty)
                self.records += missing
                self.filled_samples += missing * self._r_emg
            else:
                self._write_out()  # skip() needs every record before the gap written
                self._writer.skip(missing * self._record_s)
        self._current = index
        self._emg[:] = 0.0
        self._acc[:] = 0.0
        self._got_emg[:] = False
        self._got_acc[:] = False

    def _status(self) -> FloatArray:
        lost_emg = np.bincount(self._emg_period[~self._got_emg], minlength=self._r_acc) > 0
        status: FloatArray = EMG_MISSING * lost_emg + ACCEL_MISSING * ~self._got_acc
        return status.astype(np.float64)

    def _queue(self, record: FloatArray) -> None:
        self._done.append(record)
        if len(self._done) >= WRITE_RECORDS:
            self._write_out()

    def _flush(self) -> None:
        assert self._current is not None
        self._queue(np.concatenate([self._emg.ravel(), self._acc.ravel(), self._status()]))
        self.filled_samples += int(self._r_emg - self._got_emg.sum())
        self.records += 1
        self._next_written = self._current + 1
        self._current = None

    def add(self, emg: FloatArray, accel: FloatArray, emg_at: int, accel_at: int) -> None:
        n, m = emg.shape[1], accel.shape[1]
        done_e = done_a = 0
        while done_e < n or done_a < m:
            # The record of the earliest sample not yet placed (accel k belongs to EMG k·ratio,
            # so both streams walk the grid together).
            rec_e = (emg_at + done_e) // self._r_emg if done_e < n else None
            rec_a = (accel_at + done_a) // self._r_acc if done_a < m else None
            rec = min(r for r in (rec_e, rec_a) if r is not None)
            if rec != self._current:
                if self._current is not None and rec < self._current:
                    raise ValueError(f"samples went back in time: record {rec} < {self._current}")
                self._open(rec)
            if rec_e == rec:
                done_e += _place(self._emg, self._got_emg, emg, done_e, emg_at - rec * self._r_emg)
            if rec_a == rec:
                done_a += _place(
                    self._acc, self._got_acc, accel, done_a, accel_at - rec * self._r_acc
                )

    def _write_out(self) -> None:
        if not self._done:
            return
        block = np.stack(self._done)  # (records, samples of one record, signal after signal)
        self._done = []
        k, e, a = len(block), self._n_ch * self._r_emg, self._r_acc
        emg = (
            block[:, :e]
            .reshape(k, self._n_ch, self._r_emg)
            .transpose(1, 0, 2)
            .reshape(self._n_ch, -1)
        )
        rest = block[:, e:].reshape(k, 4, a).transpose(1, 0, 2).reshape(4, -1)
        self._writer.write([*emg, *rest])

    def close(self) -> None:
        if self._current is not None:
            self._flush()
        self._write_out()
