"""EDF source: stream an EDF/EDF+/BDF file through a cramp detector, a minute at a time.

What it does with a file:

* picks channels by label (EMG: labels starting ``EMG``; accelerometer: ``Acc…``/``Accel…`` ending
  in X, Y, Z) or by the labels the caller names, and converts units to what the detector takes
  (EMG µV from µV/mV/V/nV, acceleration g from g/mg/m·s⁻² ÷ 9.80665);
* feeds blocks of about :data:`BLOCK_S` seconds to the detector through the one feed loop
  (:class:`~bedside.stream.feed.StreamFeed`; memory is one block, whatever the file's length),
  declaring EDF+D discontinuities as gaps;
* hands each :class:`~bedside.stream.records.EventRecord` to ``on_event`` as soon as it appears.

**EMG-only files** (no accelerometer channels) are accepted with a warning. Feeding zeros would
tell the detector "the leg is perfectly still", which is a claim the file does not make; instead
the accelerometer samples of every block are declared lost with ``detector.gap(0, m)`` at a
nominal :data:`NOMINAL_ACCEL_RATE_HZ`, so both streams stay aligned by sample index and the
detector knows posture and movement are unknown.

Bad input raises :class:`~firmware_bridge.errors.InputError` (exit 65) naming the file.
Session recordings (raw notifications, :func:`is_session_file`) are replayed by
:mod:`bedside.stream.session_feed` instead.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from bedside.stream.build import DetectorFactory
from bedside.stream.feed import StreamFeed
from bedside.stream.records import EventRecord
from detector.rules import BLIND_CONFIRM_S
from detector.types import FloatArray, PipelineStatistics
from firmware_bridge.edf import EdfReader, EdfSignalInfo, accel_axis, is_status_label
from firmware_bridge.errors import InputError

log = logging.getLogger(__name__)

BLOCK_S = 60.0  # house-style.md §2: offline replay runs the pipeline a minute at a time
STANDARD_GRAVITY = 9.80665  # m/s² per g (CGPM 1901, ISO 80000-3)
NOMINAL_ACCEL_RATE_HZ = 50.0  # EMG-only files: accel clock declared lost at this rate (contracts)
# A 1-s overview of the night for --plot: 8 h = 28 800 points, 0.5 MB; the signal is not kept.
OVERVIEW_S = 1.0

EMG_UNITS_TO_UV = {"uv": 1.0, "µv": 1.0, "μv": 1.0, "mv": 1e3, "v": 1e6, "nv": 1e-3}
ACCEL_UNITS_TO_G = {
    "g": 1.0,
    "mg": 1e-3,
    "m/s2": 1 / STANDARD_GRAVITY,
    "m/s^2": 1 / STANDARD_GRAVITY,
    "m/s²": 1 / STANDARD_GRAVITY,
    "m/s/s": 1 / STANDARD_GRAVITY,
    "ms-2": 1 / STANDARD_GRAVITY,
    "ms^-2": 1 / STANDARD_GRAVITY,
    "m.s-2": 1 / STANDARD_GRAVITY,
    "m·s-2": 1 / STANDARD_GRAVITY,
    "m·s⁻²": 1 / STANDARD_GRAVITY,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelSelection:
    """Which signals of a file feed the detector and how to scale them to µV and g."""

    emg: tuple[int, ...]
    emg_labels: tuple[str, ...]
    emg_to_uv: tuple[float, ...]
    emg_rate_hz: float
    accel: tuple[int, int, int] | None  # X, Y, Z; None for an EMG-only file
    accel_labels: tuple[str, ...]
    accel_to_g: tuple[float, ...]
    accel_rate_hz: float  # NOMINAL_ACCEL_RATE_HZ when accel is None
    # crampwatch export's status signal (docs/contracts.md "EDF files"): periods it flags were
    # zero-filled, so they are declared lost, not fed as a flat line
    status: int | None = None


def _unit_scale(
    path: Path, sig: EdfSignalInfo, table: dict[str, float], default: str, kind: str
) -> float:
    unit = sig.unit.strip().lower().replace(" ", "")
    if not unit:
        log.warning("%s: %s channel %r has no unit; assuming %s", path, kind, sig.label, default)
        return table[default.lower()]
    if unit not in table:
        raise InputError(
            f"{path}: {kind} channel {sig.label!r} has unit {sig.unit!r}; "
            f"expected one of {', '.join(sorted(set(table)))}",
            path=str(path),
        )
    return table[unit]


def _by_label(path: Path, signals: Sequence[EdfSignalInfo], label: str, kind: str) -> int:
    for i, s in enumerate(signals):
        if s.label == label:
            return i
    have = ", ".join(repr(s.label) for s in signals)
    raise InputError(f"{path}: no {kind} channel labelled {label!r} (have: {have})", path=str(path))


def select_channels(
    reader: EdfReader,
    *,
    emg_labels: Sequence[str] | None = None,
    accel_labels: Sequence[str] | None = None,
    min_emg_rate_hz: float = 400.0,
) -> ChannelSelection:
    """Pick EMG and accelerometer signals by label and check rates and units.

    Without ``emg_labels`` every signal whose label starts with ``EMG`` (any case) is used; without
    ``accel_labels`` the first ``Acc…X``, ``Acc…Y``, ``Acc…Z`` signals. All EMG channels must share
    one rate ≥ ``min_emg_rate_hz`` and the three axes one rate.
    """
    path, signals = reader.path, reader.signals
    if emg_labels:
        emg = [_by_label(path, signals, lab, "EMG") for lab in emg_labels]
    else:
        emg = [i for i, s in enumerate(signals) if s.label.upper().startswith("EMG")]
    if not emg:
        have = ", ".join(repr(s.label) for s in signals) or "none"
        raise InputError(
            f"{path}: no EMG channel (labels starting with 'EMG'; have: {have}); "
            "name one with --emg",
            path=str(path),
        )
    rates = {signals[i].rate_hz for i in emg}
    if len(rates) > 1:
        raise InputError(
            f"{path}: EMG channels have different rates ({', '.join(f'{r:g}' for r in rates)} Hz); "
            "pick channels of one rate with --emg",
            path=str(path),
        )
    emg_rate = rates.pop()
    if emg_rate < min_emg_rate_hz:
        raise InputError(
            f"{path}: EMG sampled at {emg_rate:g} Hz, below the {min_emg_rate_hz:g} Hz "
            "the detector needs ([detector] min_emg_rate_hz)",
            path=str(path),
        )
    emg_scale = tuple(_unit_scale(path, signals[i], EMG_UNITS_TO_UV, "uV", "EMG") for i in emg)

    accel: tuple[int, int, int] | None
    if accel_labels:
        if len(accel_labels) != 3:
            raise InputError(f"{path}: give three accelerometer labels (X Y Z)", path=str(path))
        x, y, z = (_by_label(path, signals, lab, "accelerometer") for lab in accel_labels)
        accel = (x, y, z)
    else:
        axes: dict[str, int] = {}
        for i, s in enumerate(signals):
            axis = accel_axis(s.label)
            if axis and axis not in axes:
                axes[axis] = i
        if len(axes) == 3:
            accel = (axes["X"], axes["Y"], axes["Z"])
        else:
            if axes:
                log.warning("%s: only accelerometer axes %s found", path, "".join(sorted(axes)))
            accel = None
    accel_names: tuple[str, ...] = ()
    accel_to_g: tuple[float, ...] = ()
    accel_rate = NOMINAL_ACCEL_RATE_HZ
    if accel is None:
        log.warning(
            "%s: no accelerometer X/Y/Z channels: replaying EMG only. The accelerometer stream is "
            "declared lost (detector.gap), not zero; without movement and posture the detector "
            "asks for runs of %.0f s (BLIND_CONFIRM_S) and cannot veto gait or turns",
            path, BLIND_CONFIRM_S,
        )
    else:
        accel_rates = {signals[i].rate_hz for i in accel}
        if len(accel_rates) > 1:
            raise InputError(
                f"{path}: accelerometer axes have different rates "
                f"({', '.join(f'{r:g}' for r in accel_rates)} Hz)",
                path=str(path),
            )
        accel_names = tuple(signals[i].label for i in accel)
        accel_to_g = tuple(
            _unit_scale(path, signals[i], ACCEL_UNITS_TO_G, "g", "accelerometer") for i in accel
        )
        accel_rate = accel_rates.pop()
    status = _status_signal(signals, emg_rate, accel_rate) if accel is not None else None
    return ChannelSelection(
        emg=tuple(emg),
        emg_labels=tuple(signals[i].label for i in emg),
        emg_to_uv=emg_scale,
        emg_rate_hz=emg_rate,
        accel=accel,
        accel_labels=accel_names,
        accel_to_g=accel_to_g,
        accel_rate_hz=accel_rate,
        status=status,
    )


def _status_signal(
    signals: Sequence[EdfSignalInfo], emg_rate: float, accel_rate: float
) -> int | None:
    """The export's status signal: labelled ``MISC Status…``, one value per accelerometer period,
    with a whole number of EMG samples per period (else None: it cannot be applied exactly)."""
    ratio = emg_rate / accel_rate
    if ratio != round(ratio):
        return None
    for i, s in enumerate(signals):
        if is_status_label(s.label) and s.rate_hz == accel_rate:
            return i
    return None


def session_id_for(path: Path, start: datetime) -> str:
    """A stable session id from the file name and start time: ``night-7-20261126T223000``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", path.name.split(".")[0]) or "session"
    return f"{stem}-{start:%Y%m%dT%H%M%S}"


@dataclass(slots=True)
class Overview:
    """Per-second summary for the plot: EMG RMS (µV, mean removed per second) and accel SD (g)."""

    emg_rms_uv: list[float] = field(default_factory=list)
    accel_sd_g: list[float] = field(default_factory=list)
    t_s: list[float] = field(default_factory=list)

    def add(
        self,
        onset_s: float,
        emg: FloatArray,
        emg_rate_hz: float,
        accel: FloatArray | None,
        accel_rate_hz: float,
    ) -> None:
        n_e = max(1, round(OVERVIEW_S * emg_rate_hz))
        k = emg.shape[1] // n_e
        if k == 0:
            return
        e = emg[0, : k * n_e].reshape(k, n_e)
        rms = np.sqrt(np.mean((e - e.mean(axis=1, keepdims=True)) ** 2, axis=1))
        self.emg_rms_uv.extend(rms.tolist())
        self.t_s.extend((onset_s + OVERVIEW_S * np.arange(k)).tolist())
        if accel is None:
            self.accel_sd_g.extend([math.nan] * k)
            return
        n_a = max(1, round(OVERVIEW_S * accel_rate_hz))
        ka = min(k, accel.shape[1] // n_a)
        a = accel[:, : ka * n_a].reshape(3, ka, n_a)
        sd = np.sqrt(np.sum(a.var(axis=2), axis=0))
        self.accel_sd_g.extend(sd.tolist() + [math.nan] * (k - ka))


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayResult:
    """What replaying one file gave: its events (event JSON), statistics and timings."""

    path: Path
    session_id: str
    start: datetime
    duration_s: float  # stream time covered, gaps included
    recorded_s: float  # seconds of samples actually in the file
    channels: ChannelSelection
    events: list[EventRecord]
    statistics: PipelineStatistics
    gaps: int
    wall_s: float
    overview: Overview | None

    @property
    def speed(self) -> float:
        """Stream seconds replayed per wall-clock second (× real time)."""
        return self.duration_s / self.wall_s if self.wall_s > 0 else math.inf


def replay_file(
    path: str | Path | EdfReader,
    *,
    make_detector: DetectorFactory,
    leg: str,
    min_emg_rate_hz: float = 400.0,
    emg_labels: Sequence[str] | None = None,
    accel_labels: Sequence[str] | None = None,
    session_id: str | None = None,
    block_s: float = BLOCK_S,
    on_event: Callable[[EventRecord], None] | None = None,
    progress: Callable[[float], None] | None = None,
    overview: bool = False,
    channels: ChannelSelection | None = None,
) -> ReplayResult:
    """Replay one EDF/BDF file through a fresh detector from ``make_detector``.

    ``path`` may be an already opened :class:`EdfReader` and ``channels`` its checked selection
    (then ``emg_labels``, ``accel_labels`` and ``min_emg_rate_hz`` are not used). ``on_event``
    receives each event JSON object as it is produced; ``progress`` the fraction of the file done
    (0..1) after every block. Raises :class:`InputError` for unusable files.
    """
    t0 = time.perf_counter()
    reader = path if isinstance(path, EdfReader) else EdfReader(path)
    if channels is None:
        channels = select_channels(
            reader,
            emg_labels=emg_labels,
            accel_labels=accel_labels,
            min_emg_rate_hz=min_emg_rate_hz,
        )
    sid = session_id or session_id_for(reader.path, reader.start)
    try:
        detector = make_detector(
            emg_rate_hz=channels.emg_rate_hz,
            accel_rate_hz=channels.accel_rate_hz,
            n_emg_channels=len(channels.emg),
            emg_labels=channels.emg_labels,
        )
    except ValueError as exc:  # detector/ raises ValueError for rates it cannot work with
        raise InputError(
            f"{reader.path}: the detector refuses it: {exc}", path=str(reader.path)
        ) from exc
    log.info(
        "%s: %s, %.1f s, EMG %s at %g Hz, accelerometer %s",
        reader.path,
        "EDF+D" if reader.is_discontinuous else ("BDF" if reader.is_bdf else "EDF"),
        reader.duration_s,
        ", ".join(channels.emg_labels),
        channels.emg_rate_hz,
        f"{', '.join(channels.accel_labels)} at {channels.accel_rate_hz:g} Hz"
        if channels.accel
        else "none",
    )
    records = max(1, round(block_s / reader.record_duration_s))
    groups = [list(channels.emg), list(channels.accel or ())]

    scales = [list(channels.emg_to_uv), list(channels.accel_to_g)]
    if channels.status is not None:  # flags, read as they are
        groups.append([channels.status])
        scales.append([1.0])
    events: list[EventRecord] = []
    view = Overview() if overview else None
    emg_done = 0  # samples of each stream given to the detector (fed or declared lost)
    accel_done = 0
    gaps = 0

    def emit(record: EventRecord) -> None:
        events.append(record)
        if on_event is not None:
            on_event(record)

    feed = StreamFeed(
        detector, session_id=sid, leg=leg, session_start=lambda: reader.start, emit=emit
    )

    for chunk in reader.iter_grouped(groups, records, scales=scales):
        emg_at = round(chunk.onset_s * channels.emg_rate_hz)
        accel_at = round(chunk.onset_s * channels.accel_rate_hz)
        if emg_at < emg_done:
            raise InputError(
                f"{reader.path}: data record {chunk.first_record} starts at {chunk.onset_s:.3f} s, "
                "before the end of the previous one (EDF+D records must not overlap)",
                path=str(reader.path),
            )
        if emg_at > emg_done:  # EDF+D discontinuity: samples that were never recorded
            gaps += 1
            log.info(
                "%s: gap of %.3f s before %.3f s",
                reader.path,
                (emg_at - emg_done) / channels.emg_rate_hz,
                chunk.onset_s,
            )
            feed.gap(emg_at - emg_done, max(0, accel_at - accel_done))
            emg_done, accel_done = emg_at, max(accel_at, accel_done)
        emg = chunk.arrays[0]  # µV and g: the unit factors are fused into the reader's gain
        accel = chunk.arrays[1] if channels.accel is not None else None
        if accel is not None and channels.status is not None:
            _feed_flagged(feed, emg, accel, chunk.arrays[2][0])
        else:
            feed.process(emg, accel if accel is not None else np.zeros((3, 0)))
        if accel is not None:
            accel_done += accel.shape[1]
        else:  # EMG only: declare this block's accelerometer samples lost (module docstring)
            accel_end = round(
                (emg_done + emg.shape[1]) / channels.emg_rate_hz * channels.accel_rate_hz
            )
            if accel_end > accel_done:
                feed.gap(0, accel_end - accel_done)
                accel_done = accel_end
        if view is not None:
            view.add(chunk.onset_s, emg, channels.emg_rate_hz, accel, channels.accel_rate_hz)
        emg_done += emg.shape[1]
        if progress is not None:
            progress((chunk.first_record + chunk.n_records) / reader.n_records)
    feed.finish()
    return ReplayResult(
        path=reader.path,
        session_id=sid,
        start=reader.start,
        duration_s=emg_done / channels.emg_rate_hz,
        recorded_s=reader.duration_s,
        channels=channels,
        events=events,
        statistics=detector.statistics(),
        gaps=gaps,
        wall_s=time.perf_counter() - t0,
        overview=view,
    )


def _feed_flagged(
    feed: StreamFeed, emg: FloatArray, accel: FloatArray, status: FloatArray
) -> None:
    """Feed a block whose status signal flags zero-filled periods: the received runs as samples,
    the flagged runs as gaps of both streams (``status`` one value per accelerometer sample)."""
    ratio = round(emg.shape[1] / accel.shape[1]) if accel.shape[1] else 0
    lost = status[: accel.shape[1]] != 0
    if ratio == 0 or not lost.any():
        feed.process(emg, accel)
        return
    edges = np.flatnonzero(np.diff(lost.astype(np.int8))) + 1
    for a, b in zip(np.r_[0, edges], np.r_[edges, lost.size], strict=True):
        if lost[a]:
            feed.gap((b - a) * ratio, int(b - a))
        else:
            feed.process(emg[:, a * ratio : b * ratio], accel[:, a:b])
