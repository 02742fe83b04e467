"""``crampwatch report NIGHT [--events EVENTS.jsonl] -o night.png|night.html [--html]`` and
``crampwatch report --history STATE_DIR [--days N] [-o trend.png]``.

A night report replays NIGHT (EDF/BDF or session recording) for its curves; ``--events`` draws
the daemon's events instead of the replay's (a whole ``events.jsonl`` history is cut to the
recording's session id). ``-o X.html`` writes ``X.png`` beside it; ``--html`` adds the page to a
PNG. ``--state-dir`` (or ``--adherence FILE``) tells whether the bedtime stretch was done.
The history report prints a table and, with ``-o``, draws it. See :mod:`bedside.offline.report`.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime
from pathlib import Path

from bedside.config.settings import load_settings
from bedside.offline.report import (
    format_history,
    history,
    history_figure,
    load_night,
    read_history,
    save_figure,
    write_night,
)
from bedside.prompt.reminder import AdherenceLog
from bedside.stream.night import night_of
from bedside.stream.records import read_events
from firmware_bridge.errors import InputError

HELP = (
    "draw a night: EMG envelope and rest floor, signal quality and gaps, movement and posture, "
    "cramps, bedtime stretch (PNG + HTML); or the trend over weeks with --history STATE_DIR"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("night", nargs="?", metavar="SESSION_OR_EDF", help="the recording")
    parser.add_argument("-o", "--output", metavar="OUT.png|OUT.html", help="where to write")
    parser.add_argument("--html", action="store_true", help="also write the HTML page")
    parser.add_argument("--events", metavar="EVENTS.jsonl", help="draw these events")
    parser.add_argument("--config", metavar="FILE", help="detector settings for the replay")
    parser.add_argument("--state-dir", metavar="DIR", help="the daemon's state directory")
    parser.add_argument("--adherence", metavar="FILE",
                        help="the prompt's adherence log (default: STATE_DIR/adherence.jsonl)")
    parser.add_argument("--history", metavar="STATE_DIR",
                        help="trend over the last --days nights from the daemon's event history")
    parser.add_argument("--days", type=int, default=28, metavar="N", help="nights in --history")
    parser.add_argument("--until", metavar="YYYY-MM-DD",
                        help="last night of --history (default: the night that ended last)")


def _adherence(args: argparse.Namespace, state_dir: str | None) -> Path | None:
    if args.adherence:
        return Path(args.adherence)
    return Path(state_dir) / "adherence.jsonl" if state_dir else None


def _run_history(args: argparse.Namespace) -> int:
    state = Path(args.history)
    if args.days < 1:
        raise InputError("--days must be ≥ 1")
    events = read_history(state)
    path = _adherence(args, args.history)
    log = AdherenceLog(path) if path is not None and path.exists() else None
    try:
        until = date.fromisoformat(args.until) if args.until else night_of(datetime.now())
    except ValueError:
        raise InputError(f"--until {args.until!r}: expected YYYY-MM-DD") from None
    nights = history(events, log, until=until, days=args.days)
    print(format_history(nights))
    if args.output:
        out = Path(args.output)
        png = out.with_suffix(".png") if out.suffix == ".html" else out
        save_figure(history_figure(nights, adherence_known=log is not None), png)
        if out.suffix == ".html" or args.html:
            page = png.with_suffix(".html")
            rows = "\n".join(
                f"<tr><td>{n.night}</td><td>{n.cramps}</td><td>{n.cramp_minutes:.1f}</td>"
                f"<td>{'done' if n.stretched else '-'}</td></tr>" for n in nights)
            page.write_text(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<title>crampwatch trend</title></head><body>"
                f"<img src=\"{png.name}\" alt=\"trend\"><table id=\"nights\"><tr><th>night</th>"
                f"<th>cramps</th><th>minutes</th><th>stretch</th></tr>\n{rows}</table>"
                "</body></html>\n",
                encoding="utf-8",
            )
        print(f"wrote {png}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.history:
        return _run_history(args)
    if not args.night or not args.output:
        raise InputError("give SESSION_OR_EDF and -o OUT.png (or --history STATE_DIR)")
    path = Path(args.night)
    if not path.exists():
        raise InputError(f"{path}: no such file", path=str(path))
    out = Path(args.output)
    if out.suffix.lower() not in (".png", ".html"):
        raise InputError(f"-o {out}: expected a .png or .html file name")
    png = out.with_suffix(".png")
    page = out.with_suffix(".html") if out.suffix.lower() == ".html" or args.html else None
    events = read_events(args.events).events if args.events else None
    data = load_night(path, events=events, settings=load_settings(args.config).detector,
                      adherence=_adherence(args, args.state_dir))
    write_night(data, png, page)
    print(f"wrote {png}" + (f" and {page}" if page else ""))
    return 0
