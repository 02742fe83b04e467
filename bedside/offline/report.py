"""Night reports (PNG + HTML) and the trend over weeks, drawn with matplotlib's Agg backend.

A night report replays the recording (EDF/BDF or session file) through the production pipeline
wrapped in a :class:`Tracer`, which feeds it in :data:`TRACE_S` pieces (block output equals
batch output, house-style §2, so the events are unchanged) and after each piece notes the
pipeline's own status: EMG envelope and rest floor (µV), signal quality, posture, plus the
accelerometer activity of the piece (g) and every gap. Panels (axes titles, in order):
:data:`NIGHT_PANELS`. Events come from the replay or, with ``events=``, from the daemon's
history; the bedtime stretch comes from the prompt's adherence log (``adherence.jsonl``).

The history report reads the daemon's event history (``STATE_DIR/events.jsonl``) and the
adherence log: cramps per night, cramp minutes per night, stretching adherence.

Nothing here touches MQTT or the prompt; :func:`write_night_report` is what the daemon calls at
the end of a night and never raises.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bedside.offline.labels import detections_from_events, event_stem, labels_path, read_labels
from bedside.offline.posture import LyingSplit, lying_split, positions
from bedside.offline.replay import NightReplay, replay_night
from bedside.prompt.reminder import AdherenceLog
from bedside.stream.night import local_night, night_of
from bedside.stream.records import EventRecord, read_events
from detector.settings import DetectorSettings
from detector.types import CrampDetector, DetectorEvent, EventKind, FloatArray, PipelineStatistics
from detector.types import PipelineStatus as Status
from firmware_bridge.errors import CrampwatchError, InputError

log = logging.getLogger(__name__)

# One status sample per 10 s: an 8-h night is 2 880 points, more than the ~1 000 px of the plot;
# tracing in 10-s pieces roughly doubles the replay time (8 → 18 s for an 8-h night, loaded host).
TRACE_S = 10.0
NIGHT_PANELS = (
    "EMG envelope and rest floor",
    "Signal quality and gaps",
    "Lying position",
    "Movement and posture",
)
HISTORY_PANELS = ("Cramps per night", "Cramp minutes per night")
QUALITY_COLOURS = {
    "good": "#4daf4a",
    "no_signal": "#999999",
    "lead_off": "#e41a1c",
    "hum": "#ff7f00",
    "noisy": "#984ea3",
}
GAP_COLOUR = "black"
POSITION_COLOURS = {
    "back": "#1b9e77",
    "side": "#7570b3",
    "front": "#e7298a",
    "upright": "#ff7f00",
    "unknown": "#dddddd",
}
FIG_DPI = 90  # 12 × 7.5 in → 1080 × 675 px; a night PNG stays well under 300 KB


# --------------------------------------------------------------------------------------------
# the tracer


@dataclass(slots=True)
class NightTrace:
    """Per-piece samples (``t_s`` = end of the piece, stream s) and gaps ``(start_s, end_s)``."""

    t_s: list[float] = field(default_factory=list)
    envelope_uv: list[float] = field(default_factory=list)
    floor_uv: list[float] = field(default_factory=list)
    quality: list[str] = field(default_factory=list)
    posture: list[str] = field(default_factory=list)
    gravity_g: list[tuple[float, float, float]] = field(default_factory=list)  # piece mean, g
    activity_g: list[float] = field(default_factory=list)
    gaps: list[tuple[float, float]] = field(default_factory=list)
    # The pipeline's count at the end (frames not good, gaps included): what `replay` and the
    # daemon's summary report. The 10-s samples above would miss a 5-s stretch of bad signal.
    seconds_bad_quality: float | None = None


class Tracer:
    """A :class:`CrampDetector` that forwards to ``inner`` in pieces ending on multiples of
    ``trace_s`` of EMG stream time and records :class:`NightTrace` samples after each."""

    def __init__(
        self,
        inner: CrampDetector,
        *,
        emg_rate_hz: float,
        accel_rate_hz: float,
        trace_s: float = TRACE_S,
    ) -> None:
        self.inner = inner
        self.trace = NightTrace()
        self._fe, self._fa = emg_rate_hz, accel_rate_hz
        self._step = max(1, round(trace_s * emg_rate_hz))
        self._emg_at = 0  # EMG samples consumed (fed or lost)
        self._accel_at = 0

    def process(self, emg: FloatArray, accel: FloatArray) -> list[DetectorEvent]:
        n, m = emg.shape[1], accel.shape[1]
        if n == 0:
            self._accel_at += m
            return self.inner.process(emg, accel)
        out: list[DetectorEvent] = []
        i = a = 0
        while i < n:
            boundary = (self._emg_at // self._step + 1) * self._step  # absolute EMG index
            end = min(n, i + boundary - self._emg_at)
            if end >= n:
                a_end = m  # the rest of the accelerometer block goes with the last piece
            else:  # accelerometer samples up to the same stream time
                want = round((self._emg_at + end - i) * self._fa / self._fe)
                a_end = min(m, max(a, a + want - self._accel_at))
            piece = accel[:, a:a_end]
            out += self.inner.process(emg[:, i:end], piece)
            self._accel_at += a_end - a
            self._emg_at += end - i
            a, i = a_end, end
            if self._emg_at % self._step == 0:
                self._note(piece)
        return out

    def _note(self, accel: FloatArray) -> None:
        st: Status = self.inner.status()
        tr = self.trace
        tr.t_s.append(self._emg_at / self._fe)
        tr.envelope_uv.append(st.envelope_uv if st.envelope_uv > 0 else math.nan)
        tr.floor_uv.append(st.rest_floor_uv if st.rest_floor_uv > 0 else math.nan)
        tr.quality.append(str(st.quality))
        tr.posture.append(st.posture)
        mean = accel.mean(axis=1) if accel.shape[1] else np.full(3, math.nan)
        tr.gravity_g.append((float(mean[0]), float(mean[1]), float(mean[2])))
        # movement: RMS around the piece's mean, summed over the axes (g), as replay's overview
        act = float(np.sqrt(np.sum(accel.var(axis=1)))) if accel.shape[1] > 1 else math.nan
        tr.activity_g.append(act)

    def gap(self, emg_samples: int, accel_samples: int) -> list[DetectorEvent]:
        if emg_samples > 0:
            t0 = self._emg_at / self._fe
            self.trace.gaps.append((t0, t0 + emg_samples / self._fe))
        self._emg_at += emg_samples
        self._accel_at += accel_samples
        return self.inner.gap(emg_samples, accel_samples)

    def finish(self) -> list[DetectorEvent]:
        events = self.inner.finish()
        self.trace.seconds_bad_quality = self.inner.statistics().seconds_bad_quality
        return events

    def status(self) -> Status:
        return self.inner.status()

    def statistics(self) -> PipelineStatistics:
        return self.inner.statistics()


@dataclass(frozen=True, slots=True, kw_only=True)
class NightData:
    """What a night report draws."""

    name: str
    start: datetime  # wall clock of stream time 0 (naive = local)
    duration_s: float
    events: list[EventRecord]
    trace: NightTrace | None
    verdicts: dict[str, str]  # event stem → "cramp" / "not_cramp" (NIGHT.labels.json)
    reminded_at: str | None = None
    stretch_done_at: str | None = None
    adherence_known: bool = False


def trace_night(
    path: Path, settings: DetectorSettings | None = None, *, leg: str | None = None
) -> tuple[NightReplay, NightTrace]:
    """Replay ``path`` with a :class:`Tracer` around the pipeline."""
    tracers: list[Tracer] = []

    def wrap(inner: Any, emg_rate_hz: float, accel_rate_hz: float) -> Tracer:
        t = Tracer(inner, emg_rate_hz=emg_rate_hz, accel_rate_hz=accel_rate_hz)
        tracers.append(t)
        return t

    replay = replay_night(path, settings or DetectorSettings(), leg=leg, wrap=wrap)
    return replay, tracers[-1].trace


def _local(when: datetime) -> datetime:
    """``when`` as naive local wall-clock time. A naive ``when`` is UTC, as for every replay
    (bedside/events.py): EDF headers carry no zone and ``crampwatch export`` writes UTC."""
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    return aware.astimezone().replace(tzinfo=None)


def load_night(
    path: Path,
    *,
    events: Sequence[EventRecord] | None = None,
    settings: DetectorSettings | None = None,
    adherence: Path | None = None,
) -> NightData:
    """Replay ``path`` for its curves; ``events`` (e.g. the daemon's) replace the replay's; a
    history of several sessions is cut to the recording's session id when that id occurs."""
    replay, trace = trace_night(path, settings)
    if events is not None:  # e.g. the whole events.jsonl history: keep this session's, if named
        mine = [e for e in events if e.event_id.startswith(replay.session_id + ":")]
        events = mine or events
    labels = read_labels(labels_path(path))
    verdicts: dict[str, str] = {
        event_stem(x.event_id): x.kind for x in (labels.labels if labels else []) if x.event_id
    }
    night = night_of(_local(replay.start) + timedelta(seconds=replay.duration_s / 2))
    reminded = done = None
    known = False
    if adherence is not None and adherence.exists():
        known = True
        info = AdherenceLog(adherence).night(night)
        reminded, done = info.reminded_at, info.done_at
    return NightData(
        name=path.name,
        start=_local(replay.start),
        duration_s=replay.duration_s,
        events=list(events) if events is not None else replay.events,
        trace=trace,
        verdicts=verdicts,
        reminded_at=reminded,
        stretch_done_at=done,
        adherence_known=known,
    )


# --------------------------------------------------------------------------------------------
# drawing


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - matplotlib is a dev/plot extra
        raise InputError("reports need matplotlib: pip install 'crampwatch[plot]'") from exc
    return plt


def _clock(start: datetime) -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda h, _pos: f"{start + timedelta(hours=h):%H:%M}")


def _hour_ticks(start: datetime, hours: float) -> list[float]:
    """Positions (h since ``start``) of round clock times: every 1 min … 2 h, at most 12 ticks."""
    step_min = next((m for m in (1, 2, 5, 10, 15, 30, 60) if hours * 60 / m <= 12), 120)
    into = (start.minute % step_min) + start.second / 60  # minutes past the last round time
    first = (step_min - into) / 60 if into else 0.0
    return [float(h) for h in np.arange(first, hours + 1e-9, step_min / 60)] or [0.0]


def _runs(values: Sequence[str]) -> list[tuple[int, int, str]]:
    """Runs of equal values: ``(first, last_exclusive, value)``."""
    out: list[tuple[int, int, str]] = []
    for i, v in enumerate(values):
        if out and out[-1][2] == v and out[-1][1] == i:
            out[-1] = (out[-1][0], i + 1, v)
        else:
            out.append((i, i + 1, v))
    return out


def cramps_of(events: Sequence[EventRecord]) -> list[dict[str, Any]]:
    """One row per cramp, in onset order: number, onset/end (stream s), duration (s), peak,
    event id stem, and whether it was only ``recorded`` (recognised after it ended: counted,
    not prompted)."""
    peaks = {e.stem: e.peak_intensity for e in events
             if e.kind is EventKind.CRAMP_ENDED and e.peak_intensity is not None}
    rows: list[dict[str, Any]] = [
        {
            "stem": event_stem(d.event_id),
            "t_onset": d.t_onset,
            "t_detect": d.t_detect,
            "t_end": d.t_end,
            "duration_s": None if d.t_end is None else d.t_end - d.t_onset,
            "peak": peaks.get(event_stem(d.event_id)),
            "recorded": False,
        }
        for d in detections_from_events(events)
    ]
    rows += [
        {
            "stem": e.stem,
            "t_onset": e.t_onset,
            "t_detect": e.t_detect if e.t_detect is not None else e.t_end,
            "t_end": e.t_end,
            "duration_s": e.duration_s,
            "peak": e.peak_intensity,
            "recorded": True,
        }
        for e in events
        if e.kind is EventKind.CRAMP_RECORDED
    ]
    rows.sort(key=lambda r: float(r["t_onset"]))
    for n, row in enumerate(rows, 1):
        row["n"] = n
    return rows


def night_figure(data: NightData) -> Any:
    """The night's figure (matplotlib Figure, Agg); panels titled as :data:`NIGHT_PANELS`."""
    plt = _pyplot()
    fig, axes = plt.subplots(
        4, 1, sharex=True, figsize=(12, 7.5), height_ratios=(3.2, 0.8, 0.5, 1.6)
    )
    ax_e, ax_q, ax_p, ax_m = axes
    hours = data.duration_s / 3600.0
    tr = data.trace
    cramps = cramps_of(data.events)
    if tr is not None and tr.t_s:
        t_h = (np.asarray(tr.t_s) - TRACE_S / 2) / 3600.0
        ax_e.semilogy(t_h, tr.envelope_uv, lw=0.6, color="0.25", label="EMG envelope")
        ax_e.semilogy(t_h, tr.floor_uv, lw=1.4, color="tab:blue", label="rest floor")
    else:
        ax_e.text(0.5, 0.5, "no recording: events only", transform=ax_e.transAxes,
                  ha="center", va="center", color="0.4")
        ax_e.set_yscale("log")
        ax_e.set_ylim(1, 100)
    for row in cramps:
        t0 = row["t_onset"] / 3600.0
        t1 = (row["t_end"] if row["t_end"] is not None else data.duration_s) / 3600.0
        verdict = data.verdicts.get(row["stem"])
        colour = "tab:gray" if verdict == "not_cramp" else "tab:red"
        ax_e.axvspan(t0, max(t1, t0 + 60 / 3600), color=colour, alpha=0.3, lw=0)
        dur = "ongoing" if row["duration_s"] is None else f"{row['duration_s']:.0f} s"
        mark = " (not a cramp)" if verdict == "not_cramp" else ""
        ax_e.annotate(f"#{row['n']} {dur}{mark}", (t0, 1.0), xycoords=("data", "axes fraction"),
                      xytext=(2, -2), textcoords="offset points", va="top", fontsize=8,
                      color=colour, rotation=90)
    ax_e.set_ylabel("EMG (µV)")
    log_ticks(ax_e)
    if tr is None or not tr.t_s:
        ax_e.set_yticks([])
        ax_e.set_yticks([], minor=True)
    ax_e.set_title(NIGHT_PANELS[0], loc="left", fontsize=10)
    if tr is not None and tr.t_s:
        ax_e.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    # quality strip and gaps
    if tr is not None and tr.t_s:
        starts = np.asarray(tr.t_s) - TRACE_S
        for first, last, q in _runs(tr.quality):
            ax_q.broken_barh([(starts[first] / 3600, (tr.t_s[last - 1] - starts[first]) / 3600)],
                             (0, 1), color=QUALITY_COLOURS.get(q, "0.5"), lw=0)
        for g0, g1 in tr.gaps:
            ax_q.broken_barh([(g0 / 3600, max(g1 - g0, 30.0) / 3600)], (0, 1), color=GAP_COLOUR)
        seen = [q for q in QUALITY_COLOURS if q in set(tr.quality)]
        handles = [plt.Rectangle((0, 0), 1, 1, color=QUALITY_COLOURS[q]) for q in seen]
        names = [q.replace("_", " ") for q in seen]
        if tr.gaps:
            handles.append(plt.Rectangle((0, 0), 1, 1, color=GAP_COLOUR))
            names.append(f"gap ({len(tr.gaps)})")
        ax_q.legend(handles, names, loc="upper left", bbox_to_anchor=(1.0, 1.15), fontsize=7,
                    frameon=False)
        ax_q.set_title(f"{NIGHT_PANELS[1]}: {quality_text(tr, data.duration_s)}", loc="left",
                       fontsize=10)
    else:
        ax_q.set_title(NIGHT_PANELS[1], loc="left", fontsize=10)
        for ax in (ax_q, ax_m):
            ax.text(0.5, 0.5, "no recording", transform=ax.transAxes, ha="center",
                    va="center", color="0.4")
            ax.set_yticks([])
    ax_q.set_yticks([])
    ax_q.set_ylim(0, 1)
    _position_panel(plt, ax_p, tr)
    # movement and posture
    if tr is not None and tr.t_s:
        t_h = (np.asarray(tr.t_s) - TRACE_S / 2) / 3600.0
        act = np.asarray(tr.activity_g) * 1000.0
        ax_m.plot(t_h, act, lw=0.6, color="tab:blue", label="activity")
        starts = np.asarray(tr.t_s) - TRACE_S
        labelled = False
        for first, last, p in _runs(tr.posture):
            if p == "upright":
                ax_m.axvspan(starts[first] / 3600, tr.t_s[last - 1] / 3600, color="tab:orange",
                             alpha=0.35, lw=0, label=None if labelled else "upright")
                labelled = True
        finite = act[np.isfinite(act)]
        if finite.size:
            ax_m.set_ylim(0, max(5.0, float(np.percentile(finite, 99.5)) * 1.2))
        ax_m.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    ax_m.set_ylabel("accel (mg)")
    ax_m.set_title(NIGHT_PANELS[3], loc="left", fontsize=10)
    ax_m.set_xlim(0, max(hours, 1 / 60))
    ax_m.xaxis.set_major_formatter(_clock(data.start))
    ax_m.set_xticks(_hour_ticks(data.start, hours))
    ax_m.set_xlabel(f"local time (night starting {data.start:%a %d %b %Y %H:%M})")
    real = [r for r in cramps if data.verdicts.get(r["stem"]) != "not_cramp"]
    total = sum(r["duration_s"] or 0.0 for r in real)
    recorded = f"{hours:.1f} h recorded" if tr is not None else "no recording"
    fig.suptitle(
        f"{data.name}: {len(real)} cramp(s), {total / 60:.1f} min in all, "
        f"{recorded} — {_stretch_text(data)}",
        fontsize=11,
    )
    fig.tight_layout()
    return fig


def quality_text(trace: NightTrace, duration_s: float) -> str:
    """``99.6 % good (6.0 s bad signal or gaps)``: from the pipeline's own count, as the replay
    and nightly summaries give it, rounded down so that any bad second shows below 100 %."""
    if trace.seconds_bad_quality is None or duration_s <= 0:  # no count: the 10-s samples
        good = Counter(trace.quality)["good"] / max(1, len(trace.quality))
        return f"{good:.0%} good"
    bad = min(trace.seconds_bad_quality, duration_s)
    good_pm = math.floor(1000 * (1 - bad / duration_s))  # per mille, rounded down
    return f"{good_pm / 10:.1f} % good ({bad:.1f} s bad signal or gaps)"


# 1-2-5 steps per decade label a log axis that spans a few decades (1, 2, 5, 10, 20 … µV);
# over more decades only the decades, and within one decade every integer multiple.
_LOG_LABEL_SUBS = ((1.0, (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)), (3.5, (1.0, 2.0, 5.0)))
MIN_LOG_SPAN = 5.0  # a log axis over less than this factor could show fewer than 3 labels


def log_ticks(ax: Any) -> None:
    """Readable labels on ``ax``'s log y axis: plain numbers (``20``, not ``2×10¹``) at
    :data:`_LOG_LABEL_SUBS` steps, unlabelled minor ticks at the other multiples."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    lo, hi = (max(v, 1e-12) for v in ax.get_ylim())
    if hi / lo < MIN_LOG_SPAN:  # widen around the middle (geometric mean)
        mid, half = math.sqrt(lo * hi), math.sqrt(MIN_LOG_SPAN)
        lo, hi = mid / half, mid * half
        ax.set_ylim(lo, hi)
    decades = math.log10(hi / lo)
    subs = next((sub for most, sub in _LOG_LABEL_SUBS if decades <= most), (1.0,))
    ax.yaxis.set_major_locator(LogLocator(base=10.0, subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.yaxis.set_minor_locator(LogLocator(base=10.0, subs=tuple(np.arange(1.0, 10.0))))
    ax.yaxis.set_minor_formatter(NullFormatter())


def night_lying_split(tr: NightTrace) -> LyingSplit:
    """Back / side / face-down seconds of a traced night (:mod:`bedside.offline.posture`)."""
    gravity = np.asarray(tr.gravity_g, dtype=np.float64).reshape(-1, 3).T
    return lying_split(gravity, tr.posture, sample_s=TRACE_S)


def _position_panel(plt: Any, ax: Any, tr: NightTrace | None) -> None:
    """A strip of the calf's lying position, titled with the back/side split."""
    ax.set_yticks([])
    ax.set_ylim(0, 1)
    if tr is None or not tr.t_s:
        ax.set_title(NIGHT_PANELS[2], loc="left", fontsize=10)
        ax.text(0.5, 0.5, "no recording", transform=ax.transAxes, ha="center", va="center",
                color="0.4")  # fmt: skip
        return
    gravity = np.asarray(tr.gravity_g, dtype=np.float64).reshape(-1, 3).T
    where = positions(gravity, tr.posture)
    starts = np.asarray(tr.t_s) - TRACE_S
    for first, last, position in _runs(where):
        ax.broken_barh([(starts[first] / 3600, (tr.t_s[last - 1] - starts[first]) / 3600)],
                       (0, 1), color=POSITION_COLOURS[position], lw=0)  # fmt: skip
    seen = [p for p in POSITION_COLOURS if p in set(where)]
    handles = [plt.Rectangle((0, 0), 1, 1, color=POSITION_COLOURS[p]) for p in seen]
    names = ["face down" if p == "front" else p for p in seen]
    ax.legend(handles, names, loc="upper left", bbox_to_anchor=(1.0, 1.3), fontsize=7,
              frameon=False)  # fmt: skip
    split = night_lying_split(tr)
    ax.set_title(f"{NIGHT_PANELS[2]}: {split.text()} (calf; of the lying time)", loc="left",
                 fontsize=10)


def _stretch_text(data: NightData) -> str:
    if not data.adherence_known:
        return "bedtime stretch: not known"
    if data.stretch_done_at:
        return f"bedtime stretch done {_hhmm(data.stretch_done_at)}"
    if data.reminded_at:
        return f"reminded {_hhmm(data.reminded_at)}, stretch not done"
    return "no bedtime stretch"


def _hhmm(iso: str) -> str:
    """Local ``HH:MM`` of an ISO time; a naive one is taken as already local (adherence log)."""
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{when.astimezone() if when.tzinfo else when:%H:%M}"


def save_figure(fig: Any, out: Path) -> None:
    plt = _pyplot()
    try:
        fig.savefig(out, dpi=FIG_DPI)
    except OSError as exc:
        raise InputError(f"{out}: cannot write: {exc}", path=str(out)) from exc
    finally:
        plt.close(fig)


def night_html(data: NightData, png_name: str) -> str:
    """An HTML page: the PNG and a table of the night's cramps."""
    rows = []
    for r in cramps_of(data.events):
        when = data.start + timedelta(seconds=r["t_onset"])
        label = data.verdicts.get(r["stem"], "recorded, not prompted" if r["recorded"] else "-")
        rows.append(
            "<tr>"
            f"<td>{r['n']}</td><td>{when:%H:%M:%S}</td>"
            f"<td>{'ongoing' if r['duration_s'] is None else format(r['duration_s'], '.0f')}</td>"
            f"<td>{r['t_detect'] - r['t_onset']:.1f}</td>"
            f"<td>{'-' if r['peak'] is None else format(r['peak'], '.1f')}</td>"
            f"<td>{html.escape(label)}</td>"
            f"<td><code>{html.escape(r['stem'])}</code></td></tr>"
        )
    body = "\n".join(rows) or '<tr><td colspan="7">no cramps detected</td></tr>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(data.name)}</title>
<style>body{{font-family:sans-serif;margin:1em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}img{{max-width:100%}}</style>
</head><body>
<h1>Night of {data.start:%a %d %b %Y}, {html.escape(data.name)}</h1>
<p>{data.duration_s / 3600:.1f} h from {data.start:%H:%M}; {html.escape(_stretch_text(data))}.</p>
{_position_html(data)}
<img src="{html.escape(png_name)}" alt="night report">
<h2>Cramps</h2>
<table id="cramps"><thead><tr><th>#</th><th>onset</th><th>duration (s)</th>
<th>detected after (s)</th><th>peak (× floor)</th><th>label</th><th>event</th></tr></thead>
<tbody>
{body}
</tbody></table>
</body></html>
"""


def _position_html(data: NightData) -> str:
    """One paragraph: lying time on the back and on the side (of the calf; see posture.py)."""
    if data.trace is None or not data.trace.t_s:
        return ""
    split = night_lying_split(data.trace)
    return (
        f'<p id="lying">Lying position (from the calf): {html.escape(split.text())}; '
        f"{split.lying_s / 3600:.1f} h lying, {split.upright_s / 60:.0f} min upright.</p>"
    )


def write_night(data: NightData, png: Path, html_path: Path | None = None) -> Path:
    """Draw ``data`` into ``png`` (and the HTML page into ``html_path``); returns ``png``."""
    save_figure(night_figure(data), png)
    if html_path is not None:
        try:
            html_path.write_text(night_html(data, png.name), encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{html_path}: cannot write: {exc}", path=str(html_path)) from exc
    return png


# --------------------------------------------------------------------------------------------
# history


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryNight:
    night: str  # date of the evening, ISO
    cramps: int
    cramp_minutes: float
    reminded: bool
    stretched: bool


def _night_key(record: EventRecord) -> str | None:
    try:
        return local_night(datetime.fromisoformat(record.time))
    except ValueError:
        return None


def history(
    events: Sequence[EventRecord],
    adherence: AdherenceLog | None,
    *,
    until: date,
    days: int,
) -> list[HistoryNight]:
    """The ``days`` nights ending with night ``until``: cramps (``cramp_started``), cramp minutes
    (sum of ``cramp_ended`` durations) and the bedtime stretch from the adherence log."""
    counts: Counter[str] = Counter()
    minutes: defaultdict[str, float] = defaultdict(float)
    seen: set[str] = set()
    for e in events:
        if e.event_id in seen:  # the history may hold a replayed duplicate: ids are stable
            continue
        seen.add(e.event_id)
        key = _night_key(e)
        if key is None:
            continue
        if e.kind in (EventKind.CRAMP_STARTED, EventKind.CRAMP_RECORDED):
            counts[key] += 1
        if e.closes and e.duration_s is not None:
            minutes[key] += e.duration_s / 60.0
    summary = adherence.summary(until=until, nights=days, cramp_counts=dict(counts)) if (
        adherence is not None) else None
    out = []
    for back in range(days - 1, -1, -1):
        key = (until - timedelta(days=back)).isoformat()
        info = None
        if summary is not None:
            info = next(n for n in summary.per_night if n.night == key)
        out.append(
            HistoryNight(
                night=key,
                cramps=counts.get(key, 0),
                cramp_minutes=minutes.get(key, 0.0),
                reminded=bool(info and info.reminded_at),
                stretched=bool(info and info.stretched),
            )
        )
    return out


def read_history(state_dir: Path) -> list[EventRecord]:
    """The daemon's event history (``STATE_DIR/events.jsonl``); bad lines counted, skipped."""
    path = state_dir / "events.jsonl"
    if not path.exists():
        raise InputError(f"{path}: no event history (is STATE_DIR the daemon's?)", path=str(path))
    return read_events(path).events


def history_figure(nights: Sequence[HistoryNight], *, adherence_known: bool) -> Any:
    """Bars per night; panels titled as :data:`HISTORY_PANELS`."""
    plt = _pyplot()
    fig, (ax_c, ax_m) = plt.subplots(2, 1, sharex=True, figsize=(10, 5.5))
    x = np.arange(len(nights))
    colours = ["tab:green" if n.stretched else "tab:red" for n in nights] if adherence_known \
        else ["tab:red"] * len(nights)
    ax_c.bar(x, [n.cramps for n in nights], color=colours)
    ax_c.set_ylabel("cramps")
    ax_c.set_title(HISTORY_PANELS[0], loc="left", fontsize=10)
    ax_m.bar(x, [n.cramp_minutes for n in nights], color=colours)
    ax_m.set_ylabel("minutes")
    ax_m.set_title(HISTORY_PANELS[1], loc="left", fontsize=10)
    step = max(1, len(nights) // 14)
    ax_m.set_xticks(x[::step], [n.night[5:] for n in nights][::step], rotation=45, ha="right")
    if adherence_known:
        from matplotlib.patches import Patch

        ax_c.legend(handles=[Patch(color="tab:green", label="stretched at bedtime"),
                             Patch(color="tab:red", label="no stretch")], fontsize=8)
        share = sum(n.stretched for n in nights) / len(nights) if nights else 0.0
        tail = f", stretched on {share:.0%} of nights"
    else:
        tail = ", no adherence log"
    total = sum(n.cramps for n in nights)
    fig.suptitle(
        f"{len(nights)} nights to {nights[-1].night if nights else '-'}: {total} cramp(s), "
        f"{sum(n.cramp_minutes for n in nights):.0f} min{tail}",
        fontsize=11,
    )
    fig.tight_layout()
    return fig


def format_history(nights: Sequence[HistoryNight]) -> str:
    lines = [f"{'night':<10} {'cramps':>6} {'minutes':>8}  stretch"]
    for n in nights:
        stretch = "done" if n.stretched else ("reminded" if n.reminded else "-")
        lines.append(f"{n.night:<10} {n.cramps:>6} {n.cramp_minutes:>8.1f}  {stretch}")
    with_s = [n.cramps for n in nights if n.stretched]
    without = [n.cramps for n in nights if not n.stretched]
    if with_s and without:
        lines.append(
            f"mean cramps: {sum(with_s) / len(with_s):.2f} on stretch nights, "
            f"{sum(without) / len(without):.2f} on the others"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# the daemon's hook


def write_night_report(
    state_dir: Path,
    summary: dict[str, Any],
    session_path: Path | None,
    *,
    settings: DetectorSettings | None = None,
    adherence: Path | None = None,
    leg: str | None = None,
) -> Path | None:
    """Draw the night that just ended into ``STATE_DIR/reports/NIGHT.png`` (+ ``.html``).

    ``summary``: the daemon's nightly summary (``NightSummary.as_json()``: ``night`` is used);
    ``session_path``: tonight's session recording for the curves (None: events only). Events
    come from ``STATE_DIR/events.jsonl``. With two wearables the daemon draws one report per
    ``leg`` (``NIGHT-left.png``, only that leg's events). Returns the PNG's path, or None when
    it could not be drawn (logged; never raises, so the daemon carries on).
    """
    try:
        night = str(summary["night"])
        out_dir = state_dir / "reports"
        out_dir.mkdir(parents=True, exist_ok=True)
        history_path = state_dir / "events.jsonl"
        events = [
            e for e in (read_events(history_path).events if history_path.exists() else [])
            if _night_key(e) == night and (leg is None or e.leg == leg)
        ]
        adherence = adherence or state_dir / "adherence.jsonl"
        if session_path is not None and session_path.exists():
            data = load_night(session_path, events=events, settings=settings,
                              adherence=adherence)
        else:
            starts = [_local(datetime.fromisoformat(e.time)) for e in events]
            first = min(starts, default=datetime.fromisoformat(night) + timedelta(hours=22))
            start = first.replace(minute=0, second=0, microsecond=0)
            # event times are stream seconds of their own session; events-only: wall clock
            shifted = [_rebase(e, start) for e in events]
            info = AdherenceLog(adherence).night(date.fromisoformat(night))
            data = NightData(
                name=f"night {night}", start=start,
                duration_s=max([8 * 3600.0] + [e.t_end or 0.0 for e in shifted]),
                events=shifted, trace=None, verdicts={}, reminded_at=info.reminded_at,
                stretch_done_at=info.done_at, adherence_known=adherence.exists(),
            )
        png = out_dir / (f"{night}.png" if leg is None else f"{night}-{leg}.png")
        return write_night(data, png, png.with_suffix(".html"))
    except (CrampwatchError, OSError, ValueError, KeyError, TypeError) as exc:
        log.error("night report not written: %s", exc)
        return None


def _rebase(event: EventRecord, start: datetime) -> EventRecord:
    """An event with its ``t_*`` moved to seconds since ``start`` (from its wall ``time``)."""
    when = _local(datetime.fromisoformat(event.time))
    ref = event.t_end if event.closes else (event.t if event.t is not None else event.t_detect)
    if ref is None:
        return event
    shift = (when - start).total_seconds() - ref

    def moved(value: float | None) -> float | None:
        return None if value is None else value + shift

    return dataclasses.replace(
        event, t_onset=event.t_onset + shift, t_detect=moved(event.t_detect),
        t_end=moved(event.t_end), t=moved(event.t),
    )
