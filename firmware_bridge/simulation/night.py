"""Public API of the night simulator: plan a night, render it in chunks, write EDF+ and truth.

>>> plan = plan_night(seed=7, hours=8.0, profile="typical")
>>> for emg, accel in render_chunks(plan, chunk_s=60.0):   # (n_ch, n) µV, (3, m) g
...     ...
>>> write_night(plan, Path("night.edf"))                  # + night.truth.json

Memory is bounded by one 10-s block plus one chunk; the signal is the same whatever
``chunk_s`` is. This module imports neither ``bedside`` nor ``detector``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware_bridge.edf import EdfSignalSpec, EdfWriter
from firmware_bridge.errors import InputError
from firmware_bridge.simulation.episodes import Episode
from firmware_bridge.simulation.render import ACCEL_RANGE_G, Renderer, RenderInput
from firmware_bridge.simulation.schedule import PROFILES, RAIL_UV, build_schedule
from firmware_bridge.simulation.subject import Subject, draw_subject

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

TRUTH_FORMAT = "crampwatch-truth/1"
MAX_HOURS = 24.0
EMG_PHYSICAL_UV = 10000.0  # ±10 mV like a 24-h logger's range [Gan17]: 0.31 µV per int16 step
ACCEL_AXES = ("Accel X", "Accel Y", "Accel Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class NightPlan:
    """A planned night: who sleeps, what happens when, and the truth a scorer reads.

    ``truth`` is the JSON-able dict of docs/contracts.md ("crampwatch-truth/1"); times are
    seconds since ``start``. ``subject``, ``episodes`` and ``posture`` drive the renderer.
    """

    seed: int
    profile: str
    start: datetime
    duration_s: float
    emg_rate_hz: float
    accel_rate_hz: float
    emg_labels: tuple[str, ...]
    truth: dict[str, Any]
    subject: Subject
    episodes: tuple[Episode, ...]
    posture: tuple[tuple[float, float, float], ...]

    @property
    def n_emg_samples(self) -> int:
        return round(self.duration_s * self.emg_rate_hz)

    @property
    def n_accel_samples(self) -> int:
        return round(self.duration_s * self.accel_rate_hz)


def plan_night(
    *,
    seed: int,
    hours: float,
    profile: str = "typical",
    emg_rate_hz: float | None = None,
    accel_rate_hz: float | None = None,
) -> NightPlan:
    """Draw a subject and lay out a night of ``hours`` (rounded to whole seconds).

    Raises ``ValueError`` for an unknown profile, non-positive or > 24 h duration, or a forced
    rate outside 200–4000 Hz (EMG) / 25–200 Hz (accelerometer) or not a whole number of Hz.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if not (math.isfinite(hours) and 0 < hours <= MAX_HOURS):
        raise ValueError(f"hours must lie in (0, {MAX_HOURS:g}], got {hours}")
    duration = float(max(1, round(hours * 3600.0)))
    rng = np.random.default_rng([seed, 1])
    sub = draw_subject(rng, emg_rate_hz=emg_rate_hz, accel_rate_hz=accel_rate_hz)
    sched = build_schedule(np.random.default_rng([seed, 2]), sub, profile, duration)
    # Bedtime 22:00–00:30 (sleep onset; when in the night cramps strike is unconfirmed).
    start = datetime(2026, 11, 26, 22, 0, 0) + timedelta(minutes=int(rng.integers(0, 151)))
    truth: dict[str, Any] = {
        "format": TRUTH_FORMAT,
        "seed": seed,
        "profile": profile,
        "duration_s": duration,
        "start": start.isoformat(),
        "subject": sub.as_truth(),
        "cramps": sched.cramps,
        "short_cramps": sched.short_cramps,
        "confounders": sched.confounders,
        "bad_signal": sched.bad_signal,
    }
    return NightPlan(
        seed=seed,
        profile=profile,
        start=start,
        duration_s=duration,
        emg_rate_hz=sub.emg_rate_hz,
        accel_rate_hz=sub.accel_rate_hz,
        emg_labels=sub.emg_labels,
        truth=truth,
        subject=sub,
        episodes=tuple(sched.episodes),
        posture=tuple(sched.posture),
    )


class _BlockReader:
    """Serves sample ranges of a stream made of fixed blocks (keeps the last block)."""

    def __init__(self, block: Callable[[int], FloatArray], block_len: int) -> None:
        self._block, self._len = block, block_len
        self._k = -1
        self._data: FloatArray | None = None

    def _get(self, k: int) -> FloatArray:
        if k != self._k or self._data is None:
            self._data, self._k = self._block(k), k
        return self._data

    def read(self, i0: int, i1: int) -> FloatArray:
        parts = []
        i = i0
        while i < i1:
            k = i // self._len
            b = self._get(k)
            j = min(i1, (k + 1) * self._len)
            parts.append(b[:, i - k * self._len : j - k * self._len])
            i = j
        if not parts:
            return np.zeros((self._get(max(0, i0 // self._len)).shape[0], 0))
        return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0].copy()


def render_chunks(
    plan: NightPlan, chunk_s: float = 60.0
) -> Iterator[tuple[FloatArray, FloatArray]]:
    """Yield ``(emg (n_ch, n) µV, accel (3, m) g)`` float64 chunks covering the whole night.

    Chunk ``c`` holds EMG samples ``[round(c·chunk_s·fs), round((c+1)·chunk_s·fs))`` and the
    accelerometer samples of the same time span; the last chunk may be shorter. Concatenated, the
    chunks are identical for every ``chunk_s`` and deterministic per seed.
    """
    if not (math.isfinite(chunk_s) and chunk_s > 0):
        raise ValueError(f"chunk_s must be > 0, got {chunk_s}")
    r = _renderer(plan)
    emg = _BlockReader(r.emg_block, r.block_emg)
    acc = _BlockReader(r.accel_block, r.block_acc)
    n_e, n_a = plan.n_emg_samples, plan.n_accel_samples
    n_chunks = math.ceil(plan.duration_s / chunk_s - 1e-9)
    for c in range(n_chunks):
        e0 = min(n_e, round(c * chunk_s * plan.emg_rate_hz))
        e1 = min(n_e, round((c + 1) * chunk_s * plan.emg_rate_hz))
        a0 = min(n_a, round(c * chunk_s * plan.accel_rate_hz))
        a1 = min(n_a, round((c + 1) * chunk_s * plan.accel_rate_hz))
        if c == n_chunks - 1:
            e1, a1 = n_e, n_a
        yield emg.read(e0, e1), acc.read(a0, a1)


def render_window(plan: NightPlan, start_s: float, end_s: float) -> tuple[FloatArray, FloatArray]:
    """Render only ``[start_s, end_s)`` of the night: the same samples as that slice of
    :func:`render_chunks` (EMG ``[round(start_s·fs), round(end_s·fs))``, likewise accel)."""
    if not 0 <= start_s <= end_s <= plan.duration_s:
        raise ValueError(f"window [{start_s}, {end_s}) not inside the night [0, {plan.duration_s}]")
    r = _renderer(plan)
    emg = _BlockReader(r.emg_block, r.block_emg)
    acc = _BlockReader(r.accel_block, r.block_acc)
    return (
        emg.read(round(start_s * plan.emg_rate_hz), round(end_s * plan.emg_rate_hz)),
        acc.read(round(start_s * plan.accel_rate_hz), round(end_s * plan.accel_rate_hz)),
    )


def _renderer(plan: NightPlan) -> Renderer:
    return Renderer(
        RenderInput(
            seed=plan.seed,
            duration_s=plan.duration_s,
            subject=plan.subject,
            episodes=plan.episodes,
            posture=plan.posture,
        )
    )


def truth_path(path: Path) -> Path:
    """``NIGHT.edf`` → ``NIGHT.truth.json`` (contract: ``path.with_suffix(".truth.json")``)."""
    return path.with_suffix(".truth.json")


def _annotations(truth: dict[str, Any]) -> list[tuple[float, float, str]]:
    out: list[tuple[float, float, str]] = []
    for c in truth["cramps"]:
        out.append((c["onset_s"], c["end_s"] - c["onset_s"], f"cramp level {c['level']:.2f}"))
    for c in truth["short_cramps"]:
        out.append((c["onset_s"], c["end_s"] - c["onset_s"], "short cramp"))
    for c in truth["confounders"]:
        if c["kind"] != "ecg":
            out.append((c["start_s"], c["end_s"] - c["start_s"], c["kind"]))
    for c in truth["bad_signal"]:
        out.append((c["start_s"], c["end_s"] - c["start_s"], f"bad signal {c['kind']}"))
    return out


def write_night(plan: NightPlan, path: Path, *, chunk_s: float = 60.0) -> Path:
    """Write the night as EDF+ at ``path`` and its truth beside it; returns ``path``.

    EMG channels in µV over ±10 mV (0.31 µV per step), accelerometer X/Y/Z in g over ±8 g
    (0.24 mg per step), 1-s data records, truth events as EDF+ annotations. An unwritable path
    raises :class:`~firmware_bridge.errors.InputError`.
    """
    path = Path(path)
    specs = [
        EdfSignalSpec(
            label=label,
            unit="uV",
            rate_hz=plan.emg_rate_hz,
            physical_min=-EMG_PHYSICAL_UV,
            physical_max=EMG_PHYSICAL_UV,
            transducer="surface EMG electrodes",
            prefilter="simulated",
        )
        for label in plan.emg_labels
    ] + [
        EdfSignalSpec(
            label=axis,
            unit="g",
            rate_hz=plan.accel_rate_hz,
            physical_min=-ACCEL_RANGE_G,
            physical_max=ACCEL_RANGE_G,
            transducer="MEMS accelerometer",
            prefilter="simulated",
        )
        for axis in ACCEL_AXES
    ]
    assert RAIL_UV < EMG_PHYSICAL_UV  # the simulated rail fits the file's range
    try:
        writer = EdfWriter(
            path,
            specs,
            start=plan.start,
            patient="X X X X",
            recording=f"Startdate {plan.start.strftime('%d-%b-%Y').upper()} X X crampwatch-sim",
        )
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror}", path=str(path)) from exc
    with writer:
        for onset, dur, text in _annotations(plan.truth):
            writer.annotate(onset, dur, text)
        for emg, accel in render_chunks(plan, chunk_s):
            writer.write([*emg, *accel])
    tp = truth_path(path)
    try:
        tp.write_text(json.dumps(plan.truth, indent=1) + "\n")
    except OSError as exc:
        raise InputError(f"{tp}: cannot write: {exc.strerror}", path=str(tp)) from exc
    log.info(
        "wrote %s (%.0f s, %d EMG ch at %g Hz, accel %g Hz) and %s: %d cramps, %d short, "
        "%d confounders, %d bad-signal spans",
        path,
        plan.duration_s,
        len(plan.emg_labels),
        plan.emg_rate_hz,
        plan.accel_rate_hz,
        tp,
        len(plan.truth["cramps"]),
        len(plan.truth["short_cramps"]),
        len(plan.truth["confounders"]),
        len(plan.truth["bad_signal"]),
    )
    return path
