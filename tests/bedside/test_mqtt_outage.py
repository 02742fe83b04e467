"""Zero lost events across a broker outage and a SIGKILL of the publishing process.

The publisher runs in a child process (this module's ``main``, driven line by line over stdin)
so it can be SIGKILLed for real. Sequence: events 0-2 delivered; broker stopped; events 3-7
stored; child SIGKILLed; a new child on the same outbox stores 8-10 while the broker is still
down; broker restarted; every event 0-10 arrives, in order, duplicates only with an identical
payload (same ``event_id``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

from bedside.config.mqtt import MqttSettings
from bedside.live.mqtt import MqttPublisher
from bedside.live.outbox import Outbox
from bedside.stream.records import EventRecord
from tests.broker import Broker, Subscriber
from tests.conftest import ROOT

NODE = "t7"
EVENT_TOPIC = f"crampwatch/{NODE}/cramp/event"


def event(n: int) -> EventRecord:
    return EventRecord.from_json({
        "event": "cramp_started",
        "event_id": f"outage:left:{n}:started",
        "leg": "left",
        "t_onset": 60.0 * n,
        "t_detect": 60.0 * n + 2.0,
        "time": f"2026-11-27T01:{n:02d}:00.000+00:00",
        "intensity": 3.0 + n,
    })


# ------------------------------------------------------------------------------ the child


async def _child(args: argparse.Namespace) -> int:
    settings = MqttSettings(
        enabled=True,
        host="127.0.0.1",
        port=args.port,
        node_id=NODE,
        reconnect_min_delay_s=0.1,
        reconnect_max_delay_s=0.5,
        keepalive_s=5,
    )
    loop = asyncio.get_running_loop()
    with Outbox(args.db) as outbox:
        pub = MqttPublisher(settings, outbox, on_command=lambda _c: None, loop=loop)
        pub.start()
        print("ready", flush=True)
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
            if not line:
                return 1  # stdin closed: the test went away
            if line[0] == "put":
                row_id = pub.publish_event(event(int(line[1])))
                print(f"put {line[1]} {row_id}", flush=True)
            elif line[0] == "pending":
                print(f"pending {len(outbox)}", flush=True)
            elif line[0] == "wait_empty":
                for _ in range(int(float(line[1]) / 0.02)):
                    if not len(outbox):
                        break
                    await asyncio.sleep(0.02)
                print("empty" if not len(outbox) else f"timeout {len(outbox)}", flush=True)
            elif line[0] == "stop":
                await pub.stop()
                print("stopped", flush=True)
                return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="child %(levelname)s %(name)s: %(message)s")
    return asyncio.run(_child(args))


class Child:
    """The child process and a line reader that does not block forever."""

    def __init__(self, port: int, db: Path, log: Path) -> None:
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.bedside.test_mqtt_outage",
                "--port",
                str(port),
                "--db",
                str(db),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.expect("ready", 15)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.strip())

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def expect(self, prefix: str, timeout_s: float = 10.0) -> str:
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"child said nothing within {timeout_s} s") from None
        assert line.startswith(prefix), f"expected {prefix!r}, child said {line!r}"
        return line

    def ask(self, command: str, prefix: str, timeout_s: float = 10.0) -> str:
        self.send(command)
        return self.expect(prefix, timeout_s)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self._log.close()


def test_broker_outage_and_sigkill_lose_no_event(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "broker")
    broker.start()
    db, log = tmp_path / "outbox.sqlite3", tmp_path / "children.log"
    # A persistent-session consumer (like HA's recorder via Telegraf): mosquitto queues QoS 1
    # messages for it while it is away, and keeps its session over the broker restart.
    sub = Subscriber(broker, [EVENT_TOPIC], client_id="h7-outage-consumer", clean_session=False)
    children: list[Child] = []
    try:
        first = Child(broker.port, db, log)
        children.append(first)
        for n in range(3):
            first.ask(f"put {n}", f"put {n}")
        assert first.ask("wait_empty 10", "empty")

        broker.stop()
        for n in range(3, 8):
            first.ask(f"put {n}", f"put {n}")
        first.proc.send_signal(signal.SIGKILL)
        assert first.proc.wait(5) == -signal.SIGKILL

        second = Child(broker.port, db, log)
        children.append(second)
        for n in range(8, 11):
            second.ask(f"put {n}", f"put {n}")
        assert second.ask("pending", "pending") == "pending 8"  # 3..10 survived the kill

        broker.start()
        assert second.ask("wait_empty 15", "empty", timeout_s=20)
        expected = [f"outage:left:{n}:started" for n in range(11)]
        seen = sub.wait_for(
            lambda ms: {json.loads(m.payload)["event_id"] for m in ms} >= set(expected), 15
        )
        second.ask("stop", "stopped")
        assert second.proc.wait(5) == 0
    finally:
        sub.close()
        for child in children:
            child.close()
        broker.stop()

    first_seen: dict[str, bytes] = {}
    for m in seen:
        payload = json.loads(m.payload)
        if payload["event_id"] in first_seen:
            assert first_seen[payload["event_id"]] == m.payload  # a duplicate is the same message
        else:
            first_seen[payload["event_id"]] = m.payload
        assert not m.retain and m.qos == 1
    assert list(first_seen) == expected  # dict keeps first-arrival order
    assert [json.loads(p)["intensity"] for p in first_seen.values()] == [3.0 + n for n in range(11)]
    with Outbox(db) as box:
        assert len(box) == 0


if __name__ == "__main__":
    sys.exit(main())
