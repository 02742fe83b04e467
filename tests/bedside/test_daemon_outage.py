"""Issue 5: broker stopped, cramps happen, the daemon is SIGKILLed mid-outage and restarted, the
broker comes back: every event in the history reaches a subscriber, in order, none missing
(duplicates only with the same event_id). Real mosquitto, real `crampwatch run` processes."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from tests.bedside.daemon_argv import virtual_run_argv
from tests.broker import Broker, Subscriber

NODE = "outage"


def history(state: Path) -> list[str]:
    path = state / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["event_id"] for line in path.read_text().splitlines()]


def wait_until(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_events_survive_an_outage_and_a_sigkilled_daemon(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "broker")
    broker.start()
    state = tmp_path / "state"
    config = tmp_path / "crampwatch.toml"
    config.write_text(
        f'[mqtt]\nenabled = true\nhost = "127.0.0.1"\nport = {broker.port}\n'
        f'node_id = "{NODE}"\nreconnect_max_delay_s = 1.0\n'
        f'[daemon]\nstate_dir = "{state}"\n[prompt]\nbackend = "none"\n'
    )
    # A persistent session (like a dashboard's): the broker keeps its subscription across the
    # restart and queues what is published before it has reconnected.
    subscriber = Subscriber(
        broker, [f"crampwatch/{NODE}/cramp/event"], client_id="dashboard", clean_session=False
    )
    log = (tmp_path / "daemon.log").open("w")
    argv = virtual_run_argv(config, seed=4, hours=0.1, profile="dense", speed=12)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        broker.stop()  # the whole night happens during the outage
        first = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log)
        procs.append(first)
        wait_until(lambda: any(e.endswith(":started") for e in history(state)), 120, "a cramp")
        first.send_signal(signal.SIGKILL)
        first.wait()
        before_restart = history(state)
        time.sleep(1.1)  # a new second: the new run gets a new session id
        second = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log)
        procs.append(second)
        wait_until(lambda: len(history(state)) > len(before_restart), 120, "the second cramp")
        broker.start()
        wanted = history(state)
        subscriber.wait_for(
            lambda ms: {json.loads(m.payload)["event_id"] for m in ms} >= set(wanted),
            timeout_s=60,
        )
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
        final = history(state)
        subscriber.wait_for(
            lambda ms: {json.loads(m.payload)["event_id"] for m in ms} >= set(final),
            timeout_s=30,
        )
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        log.close()
        subscriber.close()
        broker.stop()
    got = [json.loads(m.payload)["event_id"] for m in subscriber.messages]
    first_seen = list(dict.fromkeys(got))
    assert [e for e in first_seen if e in set(final)] == final  # every one, in order
    assert len(final) >= 2 and any(e.endswith(":started") for e in before_restart)
    for event_id in set(got):  # duplicates only as the very same message
        payloads = {
            m.payload for m in subscriber.messages if json.loads(m.payload)["event_id"] == event_id
        }
        assert len(payloads) == 1
