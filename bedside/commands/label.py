"""``crampwatch label NIGHT [--not-cramp ID]... [--cramp HH:MM[+-MIN]]... [--confirm ID]...``.

Writes the user's verdicts into ``NIGHT.labels.json`` beside the recording (format and meaning:
:mod:`bedside.offline.labels`). The night's detections come from ``--events`` (the daemon's
``events.jsonl`` or ``crampwatch replay --events``), else from replaying NIGHT with ``--config``;
they are stored in the labels file, so later calls need neither (a later ``--events`` replaces
them; an events file with no usable event is refused, exit 65). ``--json`` prints the result as
one JSON object. ``--from-state DIR`` imports the
MQTT "that was not a cramp" presses from ``DIR/labels.jsonl``. An ID is an ``event_id``
(``…:started``, ``…:ended`` or the stem) or the number shown by ``--list``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import datetime
from pathlib import Path

from bedside.config.settings import load_settings
from bedside.offline.labels import (
    DEFAULT_TOLERANCE_S,
    Detection,
    Label,
    LabelKind,
    NightLabels,
    apply_labels,
    detections_from_events,
    import_daemon_labels,
    labels_path,
    now_iso,
    read_labels,
    stream_time_of,
    write_labels,
)
from bedside.offline.replay import NightReplay, replay_night
from bedside.stream.records import EventRecord, read_events
from bedside.stream.session_feed import probe_session
from firmware_bridge.edf import EdfReader
from firmware_bridge.errors import InputError
from firmware_bridge.recording import is_session_file

log = logging.getLogger(__name__)

HELP = (
    "label a night: '--not-cramp ID' (that was not a cramp), '--cramp 03:10' (I had a cramp "
    "around then), '--confirm ID'; stored as NIGHT.labels.json for replay, score and tune"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("night", metavar="SESSION_OR_EDF", help="the recording to label")
    parser.add_argument("--not-cramp", action="append", default=[], metavar="ID",
                        help="this detection was not a cramp")
    parser.add_argument("--confirm", action="append", default=[], metavar="ID",
                        help="this detection was a cramp")
    parser.add_argument("--cramp", action="append", default=[], metavar="HH:MM[+-MIN]",
                        help="a cramp around this local time (± MIN minutes, default "
                        f"{DEFAULT_TOLERANCE_S / 60:g})")
    parser.add_argument("--events", metavar="EVENTS.jsonl", help="the night's events")
    parser.add_argument("--from-state", metavar="DIR",
                        help="import DIR/labels.jsonl (the MQTT button's presses)")
    parser.add_argument("--config", metavar="FILE", help="detector settings for the replay")
    parser.add_argument("--list", action="store_true", help="list detections and labels")
    parser.add_argument("--json", action="store_true",
                        help="print the detections, labels and counts as one JSON object")


def _header(path: Path) -> tuple[datetime, float, str | None]:
    """Start (wall clock of stream time 0), duration (s) and session id of a recording."""
    if is_session_file(path):
        probe = probe_session(path)
        start = probe.session_start or probe.file_start
        return start, 0.0, probe.session_id
    reader = EdfReader(path)
    return reader.start, reader.duration_s, None


def _events_file(path: Path) -> list[EventRecord]:
    """The events of ``--events``; a file with bad lines and no usable event is refused (it
    would store a night without detections)."""
    found = read_events(path)
    if not found.events and found.bad_lines:
        raise InputError(f"{path}: no usable event ({found.bad_lines} bad line(s): "
                         f"{found.problems[0]})", path=str(path))
    return found.events


def _night(path: Path, out: Path, args: argparse.Namespace) -> NightLabels:
    """The stored labels; their detections are taken again from ``--events`` when given (a
    first run with a wrong events file must not fix them for good)."""
    stored = read_labels(out)
    if stored is None:
        return _new_night(path, args)
    if args.events:
        fresh = detections_from_events(_events_file(Path(args.events)))
        if fresh != stored.detections:
            known = {d.event_id for d in fresh}
            orphans = sum(1 for x in stored.labels if x.event_id and x.event_id not in known)
            log.info("%s: detections taken again from %s (%d, were %d)%s", out, args.events,
                     len(fresh), len(stored.detections),
                     f"; {orphans} label(s) name a detection not in it" if orphans else "")
            stored.detections = fresh
    return stored


def _new_night(path: Path, args: argparse.Namespace) -> NightLabels:
    if args.events:
        events = _events_file(Path(args.events))
        start, duration, _ = _header(path)
    elif args.from_state and (Path(args.from_state) / "events.jsonl").exists():
        start, duration, sid = _header(path)
        history = read_events(Path(args.from_state) / "events.jsonl").events
        events = [e for e in history if sid is None or e.event_id.startswith(sid)]
        if sid is None or not events:  # an EDF (or no history of it): its ids come from replay
            events = _replayed(path, args).events
    else:
        replayed = _replayed(path, args)
        events, start, duration = replayed.events, replayed.start, replayed.duration_s
    detections = detections_from_events(events)
    if duration <= 0:  # a session's length is known only by replaying it (false alarms per 8 h
        duration = _replayed(path, args).duration_s  # need the true length)
    return NightLabels(recording=path.name, start=start, duration_s=duration,
                       detections=detections)


def _replayed(path: Path, args: argparse.Namespace) -> NightReplay:
    log.info("%s: replaying to find the night's detections", path)
    return replay_night(path, load_settings(args.config).detector)


def _find(night: NightLabels, ident: str) -> Detection:
    if ident.isdigit() and 1 <= int(ident) <= len(night.detections):
        return night.detections[int(ident) - 1]
    found = night.detection(ident)
    if found is None:
        known = ", ".join(f"{i}={d.event_id}" for i, d in enumerate(night.detections, 1))
        raise InputError(f"no detection {ident!r} in this night; known: {known or 'none'}")
    return found


def _parse_cramp(text: str) -> tuple[str, float]:
    for sign in ("+-", "±"):
        if sign in text:
            clock, _, minutes = text.partition(sign)
            try:
                tol = float(minutes) * 60.0
            except ValueError:
                raise InputError(f"--cramp {text!r}: expected HH:MM+-MINUTES") from None
            if not 0 < tol <= 3 * 3600:
                raise InputError(f"--cramp {text!r}: tolerance must be 0-180 minutes")
            return clock, tol
    return text, DEFAULT_TOLERANCE_S


def run(args: argparse.Namespace) -> int:
    path = Path(args.night)
    if not path.exists():
        raise InputError(f"{path}: no such file", path=str(path))
    out = labels_path(path)
    night = _night(path, out, args)
    added = 0
    verdicts: list[tuple[str, LabelKind]] = [(i, "not_cramp") for i in args.not_cramp]
    verdicts += [(i, "cramp") for i in args.confirm]
    for ident, kind in verdicts:
        d = _find(night, ident)
        added += night.add(Label(kind=kind, event_id=d.event_id, added=now_iso()))
    for text in args.cramp:
        clock, tol = _parse_cramp(text)
        t = stream_time_of(clock, night.start, night.duration_s)
        added += night.add(Label(kind="cramp", t_s=t, tolerance_s=tol, added=now_iso()))
    if args.from_state:
        n, bad = import_daemon_labels(night, Path(args.from_state) / "labels.jsonl")
        added += n
        if bad:
            log.warning("%d unreadable line(s) in %s/labels.jsonl", bad, args.from_state)
    write_labels(out, night)
    truth = apply_labels(None, night)
    cramps = len(truth["cramps"])
    not_cramp = sum(1 for c in truth["confounders"] if c["kind"] == "not_cramp")
    if args.json:
        json.dump({
            "labels_file": str(out), "added": added, "labels": len(night.labels),
            "cramps": cramps, "not_cramp_spans": not_cramp,
            "detections": [{"n": i, "event_id": d.event_id, "t_detect": d.t_detect,
                            "verdict": _verdict(night, d)}
                           for i, d in enumerate(night.detections, 1)],
            "approximate_cramps": [{"t_s": x.t_s, "tolerance_s": x.tolerance_s,
                                    "source": x.source}
                                   for x in night.labels if x.t_s is not None],
        }, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if args.list or not added:
        for i, d in enumerate(night.detections, 1):
            print(f"{i:>3} {d.event_id}  t_detect {d.t_detect:.1f} s  {_verdict(night, d)}")
        for x in night.labels:
            if x.t_s is not None:
                print(f"    cramp around t={x.t_s:.0f} s ± {x.tolerance_s / 60:g} min ({x.source})")
    print(f"{out}: {added} label(s) added; {len(night.labels)} in all → {cramps} cramp(s), "
          f"{not_cramp} not-a-cramp span(s)")
    return 0


def _verdict(night: NightLabels, d: Detection) -> str:
    return next((x.kind for x in night.labels if x.event_id == d.event_id), "-")
