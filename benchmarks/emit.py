"""``python -m benchmarks.emit [--detector naive|pipeline] NIGHT.edf``: print event JSONL.

The external-command side of ``benchmarks.run``: reads an EDF night a minute at a time, runs an
in-process detector over it and prints one event JSON object per line (contracts.md "Event
JSON"), as ``crampwatch replay`` does. Bad input prints one line and exits 65.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bedside.stream.records import EventRecord, dumps, event_record
from benchmarks.corpus import iter_night, night_signals
from benchmarks.run import IN_PROCESS, make_detector
from detector.types import DetectorEvent
from firmware_bridge.edf import EdfReader
from firmware_bridge.errors import InputError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.emit", description=__doc__)
    parser.add_argument("--detector", choices=IN_PROCESS, default="naive")
    parser.add_argument("--leg", default="left", help="leg named in the events")
    parser.add_argument("edf", type=Path, help="EDF+ night with EMG… and Accel X/Y/Z signals")
    args = parser.parse_args(argv)
    try:
        reader = EdfReader(args.edf)
        sig = night_signals(reader)
        det = make_detector(args.detector, sig)
        session = args.edf.name.removesuffix(".edf")

        def record(event: DetectorEvent) -> EventRecord:
            return event_record(event, session_id=session, leg=args.leg, session_start=reader.start)

        for emg, accel in iter_night(reader, sig):
            for event in det.process(emg, accel):
                print(dumps(record(event)), flush=True)
        for event in det.finish():
            print(dumps(record(event)))
    except InputError as exc:
        print(f"benchmarks.emit: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
