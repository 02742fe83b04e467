"""SIGHUP: a broken configuration is refused and the daemon keeps running; a valid one restarts
it in place (same PID, so systemd keeps tracking it) without losing tonight's count."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bedside.stream.night import local_night as night_of
from bedside.stream.night import restore_night
from tests.bedside.daemon_argv import virtual_run_argv


class Lines:
    """Collects a subprocess's stderr lines on a thread; ``wait_for`` a substring."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        assert proc.stderr is not None
        stream = proc.stderr
        def pump() -> None:
            for line in stream:
                self._queue.put(line)

        threading.Thread(target=pump, daemon=True).start()

    def wait_for(self, text: str, timeout_s: float = 60.0, *, count: int = 1) -> None:
        deadline = time.monotonic() + timeout_s
        while sum(text in line for line in self.seen) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{text!r} not seen; stderr:\n" + "".join(self.seen[-40:]))
            try:
                self.seen.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                continue


@contextmanager
def virtual_daemon(config: Path) -> Iterator[tuple[subprocess.Popen[str], Lines]]:
    """A real ``crampwatch run --virtual`` daemon (an hour at real speed) and its stderr lines;
    killed and reaped on the way out if the test did not stop it."""
    proc = subprocess.Popen(
        virtual_run_argv(config, seed=5, hours=1, speed=1),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc, Lines(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()


def tonight_record() -> dict[str, object]:
    return {
        "event": "cramp_started",
        "event_id": "earlier:left:1:started",
        "leg": "left",
        "t_onset": 1.0,
        "t_detect": 3.0,
        "time": datetime.now(UTC).isoformat(),
        "intensity": 4.0,
    }


def test_sighup_refuses_bad_config_then_restarts_in_place(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "events.jsonl").write_text(json.dumps(tonight_record()) + "\n")
    config = tmp_path / "crampwatch.toml"
    good = f'[daemon]\nstate_dir = "{state}"\n[prompt]\nbackend = "none"\n'
    config.write_text(good)
    with virtual_daemon(config) as (proc, lines):
        lines.wait_for("restored tonight's 1 cramp(s)")
        lines.wait_for("connected to")

        config.write_text(good + "[detector]\nonset_treshold = 3\n")
        proc.send_signal(signal.SIGHUP)
        lines.wait_for("keeping the running configuration")
        time.sleep(0.5)
        assert proc.poll() is None

        config.write_text(good)
        proc.send_signal(signal.SIGHUP)
        lines.wait_for("restarting cleanly")
        lines.wait_for("restored tonight's 1 cramp(s)", count=2)  # the new run, same PID
        assert proc.poll() is None
        lines.wait_for("connected to", count=2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_night_runs_noon_to_noon_and_restore_skips_other_nights(tmp_path: Path) -> None:
    evening = datetime(2026, 11, 26, 23, 0).astimezone()
    morning = datetime(2026, 11, 27, 3, 0).astimezone()
    next_evening = datetime(2026, 11, 27, 22, 0).astimezone()
    assert night_of(evening) == night_of(morning) == "2026-11-26"
    assert night_of(next_evening) == "2026-11-27"
    history = tmp_path / "events.jsonl"
    lines = [
        json.dumps({**tonight_record(), "time": evening.isoformat()}),
        "not json",
        json.dumps({**tonight_record(), "time": next_evening.isoformat()}),
    ]
    history.write_text("\n".join(lines) + "\n")
    assert [r.time for r in restore_night(history, "2026-11-26")] == [evening.isoformat()]


def test_prompt_silence_reaches_the_running_daemon(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = tmp_path / "crampwatch.toml"
    config.write_text(f'[daemon]\nstate_dir = "{state}"\n[prompt]\nbackend = "none"\n')
    silence = [sys.executable, "-m", "bedside.cli", "prompt", "silence", "--config", str(config)]
    absent = subprocess.run(silence, capture_output=True, text=True, check=False)
    assert absent.returncode == 1 and "no running daemon" in absent.stderr

    with virtual_daemon(config) as (proc, lines):
        lines.wait_for("connected to")
        assert (state / "crampwatch.pid").read_text().strip() == str(proc.pid)
        done = subprocess.run(silence, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        lines.wait_for("silenced (cramp)")
        done = subprocess.run([*silence, "--night"], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        lines.wait_for("silenced (night)")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert not (state / "crampwatch.pid").exists()
