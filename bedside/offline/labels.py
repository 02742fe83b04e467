"""Labels of a recorded night, from three places, turned into the truth schema the scorer reads.

Sources (merged by :func:`truth_for`):

1. the simulator's ``NIGHT.truth.json`` beside an EDF (complete: taken as is);
2. EDF+ annotations (a clinician's scoring, e.g. in EDFbrowser): an annotation whose text
   contains "cramp" is a cramp span (``"short cramp"`` or under 10 s: a short cramp, neutral);
   "not cramp" / "no cramp" / "false alarm" spans are places where an alarm is a false alarm;
3. the user's feedback, stored beside the recording as ``NIGHT.labels.json`` (this module's
   format), written by ``crampwatch label`` and imported from the daemon's ``labels.jsonl``
   (the MQTT "that was not a cramp" button: ``{"label": "false_alarm", "event_id", "time"}``).

``NIGHT.labels.json`` (``"format": "crampwatch-labels/1"``)::

    {"format": "crampwatch-labels/1", "recording": "night.edf",
     "start": "2026-11-26T22:30:00", "duration_s": 28800.0,
     "detections": [{"event_id": "s:left:1:started", "t_onset": 812.4, "t_detect": 815.1,
                     "t_end": 901.0}],
     "labels": [
       {"kind": "not_cramp", "event_id": "s:left:1:started", "source": "mqtt", "added": "..."},
       {"kind": "cramp", "event_id": "s:left:2:started", "source": "user", "added": "..."},
       {"kind": "cramp", "t_s": 9000.0, "tolerance_s": 600.0, "source": "user", "added": "..."}]}

How it becomes truth (the scorer's rule, ``docs/contracts.md``, is unchanged):

* ``not_cramp`` at a detection → a confounder ``{"kind": "not_cramp"}`` over the detection's
  ``[t_onset, t_end]``: an alarm there is a false alarm (and is reported as having fallen on it);
  a simulator/annotation cramp under that detection's ``t_detect`` is dropped (the user knows best).
* ``cramp`` at a detection → a required cramp over ``[t_onset, t_end]`` of the detection
  (replacing an "around" cramp whose window holds it).
* ``cramp`` "around" a wall time (``t_s`` ± ``tolerance_s``, default :data:`DEFAULT_TOLERANCE_S`)
  → a required cramp ``[t_s − tolerance_s, t_s + tolerance_s]`` flagged ``"approximate": true``:
  a start anywhere in that window is a hit; its latency is meaningless, so ``crampwatch tune``
  leaves approximate cramps out of its latency figures.
* a detection the user neither denied nor confirmed → a *short cramp* over its span (neutral:
  neither hit nor false alarm), because silence is not a verdict either way. Everything else
  outside the cramps is a false alarm, as always.

Only user-labelled nights (no truth file, no annotations) count their unlabelled detections as
neutral; a truth or annotation file is complete by definition.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from bedside.offline.scoring import TRUTH_FORMAT
from bedside.offline.truth import read_truth
from bedside.stream.records import EventRecord, json_lines, load_json_file
from detector.types import EventKind
from firmware_bridge.edf import EdfReader
from firmware_bridge.errors import InputError
from firmware_bridge.recording import is_session_file

log = logging.getLogger(__name__)

LABELS_FORMAT = "crampwatch-labels/1"
# "I had a cramp around 03:10": people recall night-time clock times to within minutes at best;
# ±10 min keeps a hit plausible while still telling two cramps an hour apart apart.
DEFAULT_TOLERANCE_S = 600.0
# contracts.md "Truth JSON": cramps shorter than 10 s are short cramps (neutral)
SHORT_CRAMP_S = 10.0
NOT_CRAMP_WORDS = ("not cramp", "not a cramp", "no cramp", "false alarm", "not_cramp")
DAEMON_FALSE_ALARM = "false_alarm"  # bedside.live.daemon: the MQTT "that was not a cramp" button

LabelKind = Literal["cramp", "not_cramp"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Detection:
    """One detected cramp of the night (from its events), stream time in s."""

    event_id: str  # the cramp_started event's id
    t_onset: float
    t_detect: float
    t_end: float | None

    def as_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "t_onset": self.t_onset,
            "t_detect": self.t_detect,
            "t_end": self.t_end,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Label:
    """One verdict: at a detection (``event_id``) or around a stream time ``t_s`` (s)."""

    kind: LabelKind
    event_id: str | None = None
    t_s: float | None = None
    tolerance_s: float = DEFAULT_TOLERANCE_S
    source: str = "user"
    added: str = ""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.event_id is not None:
            out["event_id"] = self.event_id
        if self.t_s is not None:
            out["t_s"] = self.t_s
            out["tolerance_s"] = self.tolerance_s
        out["source"] = self.source
        if self.added:
            out["added"] = self.added
        return out


@dataclass(slots=True, kw_only=True)
class NightLabels:
    """The contents of ``NIGHT.labels.json``: the night's detections and the verdicts on them."""

    recording: str
    start: datetime
    duration_s: float
    detections: list[Detection] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)

    def detection(self, event_id: str) -> Detection | None:
        """The detection ``event_id`` names (``…:started``, ``…:ended`` or the stem)."""
        stem = event_stem(event_id)
        return next((d for d in self.detections if event_stem(d.event_id) == stem), None)

    def add(self, label: Label) -> bool:
        """Add ``label``, replacing an earlier verdict on the same detection; False if a
        duplicate."""
        if label.event_id is not None:
            stem = event_stem(label.event_id)
            old = [x for x in self.labels if x.event_id and event_stem(x.event_id) == stem]
            if any(x.kind == label.kind for x in old):
                return False
            self.labels = [x for x in self.labels if x not in old]
        elif any(
            x.kind == label.kind and x.t_s is not None and abs(x.t_s - (label.t_s or 0.0)) < 1.0
            for x in self.labels
        ):
            return False
        self.labels.append(label)
        return True

    def as_json(self) -> dict[str, Any]:
        return {
            "format": LABELS_FORMAT,
            "recording": self.recording,
            "start": self.start.isoformat(),
            "duration_s": self.duration_s,
            "detections": [d.as_json() for d in self.detections],
            "labels": [x.as_json() for x in self.labels],
        }


def event_stem(event_id: str) -> str:
    """``"s:left:3:started"`` → ``"s:left:3"`` (the cramp a started/update/ended id belongs to)."""
    head, _, tail = event_id.rpartition(":")
    return head if head and tail in ("started", "ended", "update") else event_id


def detections_from_events(events: Iterable[EventRecord]) -> list[Detection]:
    """The cramps among events: each ``cramp_started`` with its ``cramp_ended``'s end."""
    ends = {e.stem: e.t_end for e in events if e.kind is EventKind.CRAMP_ENDED}
    out = [
        Detection(event_id=e.event_id, t_onset=e.t_onset, t_detect=e.t_detect,
                  t_end=ends.get(e.stem))
        for e in events
        if e.kind is EventKind.CRAMP_STARTED and e.t_detect is not None
    ]
    out.sort(key=lambda d: d.t_detect)
    return out


def _finite(value: object) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    )


# --------------------------------------------------------------------------------------------
# files


def labels_path(recording: Path) -> Path:
    """``night.edf`` → ``night.labels.json`` (beside the recording)."""
    return recording.with_name(recording.name.split(".")[0] + ".labels.json")


def truth_path_for(recording: Path) -> Path:
    """``night.edf`` → ``night.truth.json`` (the simulator's, ``write_night``)."""
    return recording.with_suffix(".truth.json")


def _bad(path: Path, why: str) -> InputError:
    return InputError(f"{path}: {why}", path=str(path))


def parse_labels(data: object, path: Path) -> NightLabels:
    """Check a parsed ``NIGHT.labels.json``; :class:`InputError` names the bad field."""
    if not isinstance(data, dict) or data.get("format") != LABELS_FORMAT:
        raise _bad(path, f"not a labels file ('format' must be {LABELS_FORMAT!r})")
    try:
        start = datetime.fromisoformat(str(data["start"]))
        duration = float(data["duration_s"])
        detections = [
            Detection(
                event_id=str(d["event_id"]),
                t_onset=float(d["t_onset"]),
                t_detect=float(d["t_detect"]),
                t_end=None if d.get("t_end") is None else float(d["t_end"]),
            )
            for d in data.get("detections", [])
        ]
        labels = []
        for i, x in enumerate(data.get("labels", [])):
            kind = x.get("kind")
            if kind not in ("cramp", "not_cramp"):
                raise _bad(path, f"labels[{i}]: 'kind' must be 'cramp' or 'not_cramp'")
            if x.get("event_id") is None and not _finite(x.get("t_s")):
                raise _bad(path, f"labels[{i}]: needs 'event_id' or a numeric 't_s'")
            labels.append(
                Label(
                    kind=kind,
                    event_id=None if x.get("event_id") is None else str(x["event_id"]),
                    t_s=None if x.get("t_s") is None else float(x["t_s"]),
                    tolerance_s=float(x.get("tolerance_s", DEFAULT_TOLERANCE_S)),
                    source=str(x.get("source", "user")),
                    added=str(x.get("added", "")),
                )
            )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, InputError):
            raise
        raise _bad(path, f"malformed labels file: {exc!r}") from exc
    return NightLabels(
        recording=str(data.get("recording", "")),
        start=start,
        duration_s=duration,
        detections=detections,
        labels=labels,
    )


def read_labels(path: Path) -> NightLabels | None:
    """The labels file at ``path``, None if there is none; :class:`InputError` if unusable."""
    try:
        data = load_json_file(path)
    except InputError as exc:
        if isinstance(exc.__cause__, FileNotFoundError):
            return None
        raise
    return parse_labels(data, path)


def write_labels(path: Path, labels: NightLabels) -> None:
    """Write atomically (temp file + rename), so a crash never leaves half a labels file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(labels.as_json(), fh, indent=1)
            fh.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _bad(path, f"cannot write: {exc}") from exc


# --------------------------------------------------------------------------------------------
# wall time and the daemon's feedback


def stream_time_of(clock: str, start: datetime, duration_s: float) -> float:
    """``"03:10"`` (or ``"03:10:30"``), local wall time, → stream seconds since ``start``.

    ``start`` naive means local time (EDF headers), aware is converted to local time. The first
    such clock time at or after ``start`` is taken; :class:`InputError` if it lies after the
    end of the recording (more than ``DEFAULT_TOLERANCE_S`` past ``duration_s``).
    """
    try:
        wanted = time.fromisoformat(clock)
    except ValueError as exc:
        raise InputError(f"--cramp {clock!r}: expected a local time HH:MM[:SS]") from exc
    local = start.astimezone().replace(tzinfo=None) if start.tzinfo else start
    moment = datetime.combine(local.date(), wanted)
    if moment < local:
        moment += timedelta(days=1)
    t = (moment - local).total_seconds()
    if t > duration_s + DEFAULT_TOLERANCE_S:
        raise InputError(
            f"--cramp {clock}: the recording runs from {local:%H:%M} for "
            f"{duration_s / 3600:.1f} h; {clock} is not in it"
        )
    return t


def import_daemon_labels(
    night: NightLabels, labels_jsonl: Path, session_id: str | None = None
) -> tuple[int, int]:
    """Add the daemon's MQTT feedback (``labels.jsonl``) that names one of ``night``'s detections.

    Returns ``(added, skipped)``; unreadable lines are skipped with a warning.
    """
    added = skipped = 0
    if not labels_jsonl.exists():
        return 0, 0
    for number, rec, _why in json_lines(labels_jsonl):  # bounded: an MQTT payload wrote it
        if isinstance(rec, dict) and "label" in rec and "event_id" in rec:
            verdict, eid = rec["label"], rec["event_id"]
        else:
            log.warning("%s:%d: unreadable label skipped", labels_jsonl, number)
            skipped += 1
            continue
        if not isinstance(eid, str) or night.detection(eid) is None:
            continue  # another night's (or no event: the button pressed with nothing detected)
        if session_id is not None and not eid.startswith(session_id + ":"):
            continue
        kind: LabelKind = "not_cramp" if verdict == DAEMON_FALSE_ALARM else "cramp"
        if night.add(Label(kind=kind, event_id=eid, source="mqtt", added=str(rec.get("time")))):
            added += 1
    return added, skipped


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------
# → truth


def _overlaps_detect(cramp: Mapping[str, Any], t_detect: float) -> bool:
    return float(cramp["onset_s"]) - 0.5 <= t_detect <= float(cramp["end_s"]) + 2.0


def apply_labels(truth: dict[str, Any] | None, night: NightLabels) -> dict[str, Any]:
    """Truth (contracts.md "Truth JSON") from ``truth`` (complete, may be None) and the user's
    labels, by the rules in the module docstring. ``truth`` is not modified."""
    complete = truth is not None
    out: dict[str, Any] = dict(truth) if truth is not None else {
        "format": TRUTH_FORMAT,
        "duration_s": night.duration_s,
        "start": night.start.isoformat(),
        "subject": {},
    }
    cramps: list[dict[str, Any]] = [dict(c) for c in out.get("cramps", [])]
    short: list[dict[str, Any]] = [dict(c) for c in out.get("short_cramps", [])]
    confounders: list[dict[str, Any]] = [dict(c) for c in out.get("confounders", [])]
    verdicts: dict[str, LabelKind] = {}
    for x in night.labels:
        if x.event_id is not None:
            verdicts[event_stem(x.event_id)] = x.kind
        elif x.kind == "cramp" and x.t_s is not None:
            cramps.append(
                {
                    "onset_s": max(0.0, x.t_s - x.tolerance_s),
                    "end_s": x.t_s + x.tolerance_s,
                    "level": 0.0,
                    "approximate": True,
                    "source": x.source,
                }
            )
    for d in night.detections:
        end = d.t_end if d.t_end is not None else d.t_detect
        span = {"onset_s": min(d.t_onset, d.t_detect), "end_s": max(end, d.t_detect)}
        verdict = verdicts.get(event_stem(d.event_id))
        if verdict == "not_cramp":
            cramps = [c for c in cramps if not _overlaps_detect(c, d.t_detect)]
            confounders.append(
                {"kind": "not_cramp", "start_s": span["onset_s"], "end_s": span["end_s"]}
            )
        elif verdict == "cramp":
            near = [c for c in cramps if _overlaps_detect(c, d.t_detect)]
            if all(c.get("approximate") for c in near):  # the exact span replaces "around"
                cramps = [c for c in cramps if not any(c is x for x in near)]
                cramps.append({**span, "level": 0.0, "source": "user"})
        elif not complete:
            short.append({**span, "level": 0.0, "unlabelled": True})
    cramps.sort(key=lambda c: float(c["onset_s"]))
    out["cramps"] = cramps
    out["short_cramps"] = short
    out["confounders"] = confounders
    out.setdefault("bad_signal", [])
    return out


def truth_from_annotations(
    annotations: Sequence[tuple[float, float, str]], duration_s: float, start: datetime
) -> dict[str, Any] | None:
    """Truth from EDF+ annotations ``(onset_s, duration_s, text)``; None if none is about
    cramps. Words: "cramp" → cramp (short cramp if "short" or under 10 s); "not cramp",
    "no cramp", "false alarm" → a confounder ``not_cramp``."""
    cramps: list[dict[str, Any]] = []
    short: list[dict[str, Any]] = []
    other: list[dict[str, Any]] = []
    for onset, dur, text in annotations:
        low = text.lower()
        span_end = onset + max(dur, 0.0)
        if any(w in low for w in NOT_CRAMP_WORDS):
            other.append({"kind": "not_cramp", "start_s": onset, "end_s": span_end})
        elif "cramp" in low:
            item = {"onset_s": onset, "end_s": span_end, "level": 0.0, "source": "annotation"}
            (short if "short" in low or dur < SHORT_CRAMP_S else cramps).append(item)
    if not (cramps or short or other):
        return None
    return {
        "format": TRUTH_FORMAT,
        "duration_s": duration_s,
        "start": start.isoformat(),
        "subject": {},
        "cramps": cramps,
        "short_cramps": short,
        "confounders": other,
        "bad_signal": [],
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelledNight:
    """A recording and the truth assembled for it; ``sources`` names where it came from."""

    path: Path
    truth: dict[str, Any]
    sources: tuple[str, ...]

    @property
    def cramps(self) -> int:
        return len(self.truth.get("cramps", []))


def truth_for(recording: Path) -> LabelledNight | None:
    """Everything known about ``recording``: truth JSON, EDF+ annotations (EDF only) and
    ``NIGHT.labels.json``, merged; None if the night has no labels at all."""
    sources: list[str] = []
    truth: dict[str, Any] | None = None
    tpath = truth_path_for(recording)
    if tpath.exists():
        truth = read_truth(tpath)
        sources.append(tpath.name)
    else:
        if not is_session_file(recording):
            truth = _annotation_truth(recording)
            if truth is not None:
                sources.append("EDF+ annotations")
    night = read_labels(labels_path(recording))
    if night is not None:
        sources.append(labels_path(recording).name)
        truth = apply_labels(truth, night)
    if truth is None:
        return None
    return LabelledNight(path=recording, truth=truth, sources=tuple(sources))


def _annotation_truth(recording: Path) -> dict[str, Any] | None:
    try:
        reader = EdfReader(recording)
    except (OSError, ValueError) as exc:
        raise _bad(recording, f"cannot open: {exc}") from exc
    notes = [(a.onset_s, a.duration_s or 0.0, a.text) for a in reader.annotations()]
    return truth_from_annotations(notes, reader.duration_s, reader.start)


def load_truth(path: Path) -> dict[str, Any]:
    """A truth for ``crampwatch replay --truth`` / ``score``: ``path`` may be a truth JSON
    (returned as is) or a ``NIGHT.labels.json`` (applied over ``NIGHT.truth.json`` if that
    exists beside it). :class:`InputError` if it is neither."""
    data = read_truth(path)
    if data.get("format") != LABELS_FORMAT:
        return data
    night = parse_labels(data, path)
    base = path.with_name(path.name.removesuffix(".labels.json") + ".truth.json")
    return apply_labels(read_truth(base) if base.exists() else None, night)
