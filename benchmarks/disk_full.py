"""A night on a full disk (issue #16 item 4): nothing received, detected or published is lost.

python -m benchmarks.disk_full --hours 1 --seeds 7 8 9      (as root: it mounts a tmpfs)

For each seed, a virtual night over bleak/bumble runs through ``run_night`` with the state
directory on a 256 KiB tmpfs (full within seconds of recording) and a real mosquitto. Prints,
per night: packets sent / processed / dropped, notifications recorded / not recorded, events
detected live / by a direct replay / published, and whether their times agree.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bedside.config.daemon import DaemonSettings
from bedside.config.mqtt import MqttSettings
from bedside.config.prompt import PromptSettings
from bedside.config.settings import Settings
from bedside.live.service import run_night
from bedside.live.virtual import device_info_for, start_virtual
from tests.bedside.test_daemon import direct_events, essentials
from tests.broker import Broker, Received, Subscriber
from tests.conftest import as_json

NODE = "diskfull"


def _closing_events(messages: list[Received]) -> list[dict[str, Any]]:
    found = [json.loads(m.payload) for m in messages if m.topic.endswith("/cramp/event")]
    return [e for e in found if e["event"] != "cramp_update"]


async def night_on_a_full_disk(seed: int, hours: float, base: Path) -> dict[str, Any]:
    state = base / "state"
    state.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(state)],
                   check=True)
    broker = Broker(base / "broker")
    broker.start()
    subscriber = Subscriber(broker, [f"crampwatch/{NODE}/#"])
    try:
        settings = Settings(
            daemon=DaemonSettings(state_dir=str(state)),
            mqtt=MqttSettings(enabled=True, host=broker.host, port=broker.port, node_id=NODE),
            prompt=PromptSettings(cache_dir=str(base / "prompt-cache")),
        )
        virtual = await start_virtual(seed=seed, hours=hours, profile="dense", speed=None)
        t0 = time.monotonic()
        result = await run_night(settings, state_dir=state, virtual=virtual,
                                 wav_dir=base / "prompts")
        wall_s = time.monotonic() - t0
        live = [e for e in as_json(result.summary.events) if e["event"] != "cramp_update"]
        direct = direct_events(virtual.plan, device_info_for(virtual.plan))
        published = _closing_events(subscriber.wait_for(
            lambda ms: len(_closing_events(ms)) >= len(live), timeout_s=30))
        worker = result.daemon.workers[0].statistics()
        return {
            "seed": seed, "hours": hours, "wall_s": round(wall_s, 1),
            "sent": virtual.wearable.statistics().sent, "processed": worker.packets,
            "queue_drops": result.daemon.links[0].statistics().queue_drops,
            "recorded": worker.recorded_notifications,
            "not_recorded": worker.unrecorded_notifications,
            "recording_pauses": worker.recording_pauses,
            "events_live": len(live), "events_direct": len(direct),
            "live_equals_direct": essentials(live) == essentials(direct),
            "published": len(published),
            "published_equals_live": essentials(published) == essentials(live),
            "prompts": len(list((base / "prompts").glob("*.wav"))),
            "history_held": result.daemon.sink.held,
        }
    finally:
        subscriber.close()
        broker.stop()
        subprocess.run(["umount", "-l", str(state)], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    args = parser.parse_args()
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix="crampwatch-diskfull-") as tmp:
            print(json.dumps(asyncio.run(night_on_a_full_disk(seed, args.hours, Path(tmp)))),
                  flush=True)


if __name__ == "__main__":
    main()
